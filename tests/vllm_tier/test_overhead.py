"""`benchmarks/overhead.py --vllm`: GRPO and OGER each generate with their own colocated engine in one process, in
interleaved blocks, with the weight sync timed as a stage of every step."""

import os
import re
import subprocess
import sys

from helpers import write_gsm8k_style_teachers

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "overhead.py")


def test_the_overhead_benchmark_runs_on_vllm_generation(tmp_path):
    data = write_gsm8k_style_teachers(tmp_path / "teachers.jsonl", n=16)
    command = [
        sys.executable, SCRIPT, "--model", "tiny", "--vllm", "--blocks", "1", "--prompts", "8",
        "--completion-length", "32", "--data", data,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    out = result.stdout
    assert "generation: vLLM (colocate)" in out
    assert re.search(r"OGER/GRPO step-time ratio: \d\.\d{3}", out)
    rows = {line.split("|")[1].strip(): line.split("|")[2:4] for line in out.splitlines() if line.startswith("| ")}
    sync = [float(cell) for cell in rows["weight sync to vLLM"]]  # part of generation, where TRL calls it
    assert all(seconds > 0 for seconds in sync)  # both trainers pushed their weights to their engine every step
