"""The overhead benchmark runs end to end at a tiny size, so that it cannot rot: interleaved blocks, the paired ratio
with its interval, and a stage table whose rows add up to the step."""

import os
import re
import subprocess
import sys

import pytest
from helpers import write_gsm8k_style_teachers

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "overhead.py")


def test_overhead_benchmark_prints_the_interleaved_ratio_and_every_stage(tmp_path):
    data = write_gsm8k_style_teachers(tmp_path / "teachers.jsonl", n=16)
    result = subprocess.run(
        [sys.executable, SCRIPT, "--model", "tiny", "--blocks", "2", "--prompts", "8", "--completion-length", "48",
         "--data", data],
        capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert re.search(r"OGER/GRPO step-time ratio: \d\.\d{3} \(95% CI -?\d\.\d{3} to \d\.\d{3}\)", out)
    rows = {line.split("|")[1].strip(): line.split("|")[2:4] for line in out.splitlines() if line.startswith("| ")}
    for stage in ("inputs: generation and scoring", "encode + divergence", "splice", "loss forward", "optimizer"):
        assert stage in rows, stage
    grpo = {stage: float(cells[0].strip("* ")) for stage, cells in rows.items() if stage not in ("stage",)}
    top_level = ("inputs: generation and scoring", "loss forward", "backward (step - inputs - loss - optimizer)")
    assert sum(grpo[s] for s in top_level) + grpo["optimizer"] == pytest.approx(grpo["**step**"], abs=2e-3)


GPU_CHECK = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "gpu_check.py")


def test_gpu_check_dry_run_runs_every_check_on_a_cpu(tmp_path):
    result = subprocess.run(
        [sys.executable, GPU_CHECK, "--dry-run", "--workdir", str(tmp_path)],
        capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=1200,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    rows = {line.split("|")[1].strip(): line for line in result.stdout.splitlines() if line.startswith("| ")}
    assert {"overhead", "zero3", "lora_notebook", "demo"} <= set(rows)
    assert re.search(r"ratio \d\.\d{3} \(95% CI", rows["overhead"])
    assert "trained and saved the model" in rows["zero3"]
    assert "adapter saved" in rows["lora_notebook"]
    assert re.search(r"OGER \d\.\d{3} -> \d\.\d{3}.*GRPO \d\.\d{3} -> \d\.\d{3}", rows["demo"])
    assert (tmp_path / "zero3" / "zero3-run" / "model.safetensors").exists()


def test_gpu_check_refuses_to_pretend_without_a_gpu():
    result = subprocess.run([sys.executable, GPU_CHECK], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "no GPU found: run with --dry-run" in result.stderr


THROUGHPUT = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "generate_throughput.py")


def test_generate_throughput_benchmark_reports_rates_that_agree_with_its_own_counts(tmp_path, tokenizer):
    from helpers import build_model

    build_model(tokenizer).save_pretrained(tmp_path / "tiny")
    tokenizer.save_pretrained(tmp_path / "tiny")
    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(f'{{"question": "{i} + 1?", "answer": "#### {i + 1}"}}\n' for i in range(3)))
    result = subprocess.run(
        [sys.executable, THROUGHPUT, "--model", str(tmp_path / "tiny"), "--problems", str(problems), "--limit", "3",
         "--engines", "transformers", "--max-new-tokens", "8"],
        capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (row,) = [line.split("|")[1:-1] for line in result.stdout.splitlines() if line.startswith("| transformers")]
    per_min, per_s, seconds, _, tokens, _ = (float(cell.strip(" %")) for cell in row[1:])
    assert tokens == 3 * 2 * 8  # the tiny random model never stops early
    assert per_s == pytest.approx(tokens / seconds, rel=0.02) and per_min == pytest.approx(60 * 3 / seconds, rel=0.02)
