"""`benchmarks/gpu_check.py` runs its vLLM row when vLLM is installed: here, a dry run on the CPU engine."""

import os
import subprocess
import sys

GPU_CHECK = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "gpu_check.py")


def test_gpu_check_runs_the_vllm_row_by_default_when_vllm_is_installed(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(os.path.dirname(GPU_CHECK))
    import gpu_check

    assert "vllm_colocate" in gpu_check.DEFAULT_CHECKS
    command = [sys.executable, GPU_CHECK, "--dry-run", "--checks", "vllm_colocate", "--workdir", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    (row,) = [line for line in result.stdout.splitlines() if line.startswith("| vllm_colocate")]
    assert "engine vs trainer log-prob |diff| per token after each of 2 syncs" in row
