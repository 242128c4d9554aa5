"""Two training processes, each with its colocated vLLM engine (torchrun, vLLM's external launcher, gloo on CPU):
groups span the processes, every rank's engine holds the trained weights after every step, and both ranks log the
same gathered decisions."""

import json
import os
import subprocess
import sys

from helpers import free_port
from probes import BF16_TOLERANCE

SCRIPT = os.path.join(os.path.dirname(__file__), "two_process_run.py")


def test_two_processes_train_with_an_engine_each_and_agree(tmp_path, tiny_model_dir):
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}",
        SCRIPT, "--model", tiny_model_dir, "--out", str(tmp_path),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]

    ranks = []
    for rank in (0, 1):
        with open(tmp_path / f"rank{rank}.json") as f:
            ranks.append(json.load(f))
    for run in ranks:
        assert [r["step"] for r in run["records"]] == [0, 1, 2]
        assert all(r["engine_vs_policy"] < BF16_TOLERANCE for r in run["records"]), run["records"]
        assert run["records"][-1]["policy_moved"] > 5 * BF16_TOLERANCE
        assert len(run["logs"]) == 2
    # DDP keeps the ranks' weights equal: the fixed completion has the same log-probs on both
    assert ranks[0]["records"][-1]["policy_moved"] == ranks[1]["records"][-1]["policy_moved"]
    # the logged metrics are gathered over both ranks: identical (each rank's own wall time aside), splices included
    logs = [[{k: v for k, v in h.items() if k != "step_time"} for h in run["logs"]] for run in ranks]
    assert logs[0] == logs[1]
    assert all(h["oger/offline_frac"] > 0 for h in logs[0])
    assert ranks[0]["sources"] == ranks[1]["sources"]  # the completion table: every row, both ranks' sources
