"""`oger-trl evaluate --backend vllm` on the CPU engine: the same graded outputs as the transformers backend on the same
problems, and, greedy in float32 on both, the same answers."""

import json
import os
import subprocess
import sys

from helpers import needs_shared, shared_path
from transformers import AutoTokenizer

GSM8K_TRAIN = shared_path("data", "gsm8k", "train.jsonl")
OGER_TRL = os.path.join(os.path.dirname(sys.executable), "oger-trl")
# Greedy decoding in float32 on both backends: the two compute the same function with different kernels, so an argmax
# can only flip at a near-tie. Over 32 tokens of 6 problems that is rare, not impossible: the texts must agree on
# their first 16 tokens, and the extracted answers on at least 5 of the 6 problems.
COMMON_PREFIX_TOKENS = 16


def evaluate(backend: str, model: str, output) -> tuple[dict, list[dict]]:
    command = [
        OGER_TRL, "evaluate", "--model", model, "--benchmarks", f"gsm8k={GSM8K_TRAIN}", "--limit", "6", "--n", "1",
        "--temperature", "0", "--max-new-tokens", "32", "--dtype", "float32", "--batch-size", "6",
        "--backend", backend, "--output", str(output),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(output / "results.json") as f:
        results = json.load(f)
    with open(output / "samples" / "gsm8k.jsonl") as f:
        return results, [json.loads(line) for line in f]


@needs_shared(GSM8K_TRAIN)
def test_vllm_and_transformers_backends_give_the_same_graded_results(tmp_path, smollm2_path):
    vllm_results, vllm_samples = evaluate("vllm", smollm2_path, tmp_path / "vllm")
    hf_results, hf_samples = evaluate("transformers", smollm2_path, tmp_path / "transformers")

    assert vllm_results.keys() == hf_results.keys() and vllm_results["settings"] == hf_results["settings"]
    assert [s.keys() for s in vllm_samples] == [s.keys() for s in hf_samples]
    assert [(s["id"], s["prompt"], s["gold"]) for s in vllm_samples] == [
        (s["id"], s["prompt"], s["gold"]) for s in hf_samples
    ]
    tokenizer = AutoTokenizer.from_pretrained(smollm2_path)
    for v, h in zip(vllm_samples, hf_samples, strict=True):
        v_ids, h_ids = (tokenizer(s["completion"], add_special_tokens=False)["input_ids"] for s in (v, h))
        assert v_ids[:COMMON_PREFIX_TOKENS] == h_ids[:COMMON_PREFIX_TOKENS], (v["completion"], h["completion"])
    same_answer = sum(v["extracted"] == h["extracted"] for v, h in zip(vllm_samples, hf_samples, strict=True))
    assert same_answer >= 5
