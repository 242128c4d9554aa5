"""Groups that span processes: two processes (torchrun, gloo) with 6 local rows and groups of 4 make the same splice
decisions, rewards and advantages as one process on the same data and seed, and do not deadlock."""

import json
import os
import socket
import subprocess
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "scripts", "splice_run.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(out_dir, nproc: int, per_device_batch: int, *flags: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = [
        sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", f"--master_port={free_port()}",
        SCRIPT, "--out", str(out_dir), "--per-device-batch", str(per_device_batch), *flags,
    ]  # fmt: skip
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    with open(os.path.join(out_dir, "result.json")) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def canned_runs(tmp_path_factory):
    # 12 rows per generation batch either way: 1 x (6 rows x 2 micro-steps) or 2 x (3 rows x 2 micro-steps).
    # With 2 processes each holds 6 rows, so the group of rows 4-7 is split across them.
    one = torchrun(tmp_path_factory.mktemp("one"), 1, 6, "--canned")
    two = torchrun(tmp_path_factory.mktemp("two"), 2, 3, "--canned")
    return one, two


def test_two_processes_make_the_same_splice_decisions_as_one(canned_runs):
    one, two = canned_runs
    assert (one["world_size"], two["world_size"]) == (1, 2)
    assert len(one["batches"]) == len(two["batches"]) == 2
    for single, split in zip(one["batches"], two["batches"], strict=True):
        assert split["sources"] == single["sources"]
        for g in range(3):  # exactly one teacher row in every group of 4, including the split one
            assert sum(s != "policy" for s in single["sources"][4 * g : 4 * g + 4]) == 1
        assert split["rewards"]["accuracy_reward"] == single["rewards"]["accuracy_reward"]
        assert split["rewards"]["oger_exploration"] == pytest.approx(single["rewards"]["oger_exploration"], abs=1e-6)
        assert split["advantages"] == pytest.approx(single["advantages"], abs=1e-6)


def test_two_processes_train_with_real_generation(tmp_path):
    result = torchrun(tmp_path, 2, 3, "--steps", "3")
    assert result["world_size"] == 2 and len(result["losses"]) == 3
    for batch in result["batches"]:
        assert sum(s != "policy" for s in batch["sources"]) == 3  # one teacher row per group
