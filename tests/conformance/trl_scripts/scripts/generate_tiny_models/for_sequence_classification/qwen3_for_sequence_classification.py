# Vendored from https://github.com/huggingface/trl, file scripts/generate_tiny_models/for_sequence_classification/qwen3_for_sequence_classification.py at commit
# f2cd57710ae345ea6428ae95363267fcf38a3dc8 (TRL 1.10.0.dev0), licensed under the Apache License 2.0 (its
# license header follows). Changes for the offline oger-trl conformance run are listed in tests/conformance/README.md
# and marked in place with "OGER-CONFORMANCE".
# Copyright 2020-2026 The HuggingFace Team. All rights reserved.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

import torch
from transformers import AutoConfig, AutoTokenizer, GenerationConfig, Qwen3ForSequenceClassification

from .._common import (
    check_dtype_pattern,
    check_transformers_version,
    init_weights_tiny_model,
    print_config_diff,
    push_to_hub,
    smoke_test,
)


check_transformers_version()

MODEL_ID = "Qwen/Qwen3-4B"

tokenizer = AutoTokenizer.from_pretrained(MODEL_ID)
generation_config = GenerationConfig.from_pretrained(MODEL_ID)
config = AutoConfig.from_pretrained(
    MODEL_ID,
    num_labels=1,
    hidden_size=16,
    num_attention_heads=4,
    num_key_value_heads=2,
    num_hidden_layers=2,
    intermediate_size=32,
)
# Bug in transformers: it ignores num_hidden_layers to build layer_types
config.layer_types = config.layer_types[:2]
model = Qwen3ForSequenceClassification(config).to(dtype=torch.bfloat16)
init_weights_tiny_model(model)
smoke_test(model, tokenizer)
check_dtype_pattern(MODEL_ID, model)
print_config_diff(MODEL_ID, model)
push_to_hub(model, tokenizer, generation_config, "tiny")
