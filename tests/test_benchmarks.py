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
