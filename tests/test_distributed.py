"""Groups that span processes: two processes (torchrun, gloo) with 6 local rows and groups of 4 make the same splice
decisions, rewards and advantages as one process on the same data and seed, and do not deadlock. The same holds under
DeepSpeed ZeRO-3 (accelerate launch, CPU), where the policy is partitioned and the frozen encoder is not."""

import json
import os
import subprocess
import sys

import pytest
import torch
from helpers import free_port

SCRIPT = os.path.join(os.path.dirname(__file__), "scripts", "splice_run.py")
ZERO3_CPU = os.path.join(os.path.dirname(__file__), "..", "recipes", "accelerate_configs", "zero3_cpu.yaml")


def run(launcher: list[str], out_dir, per_device_batch: int, *flags: str, extensions_dir=None) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if extensions_dir is not None:  # DeepSpeed builds a communication extension once: keep it out of the home cache
        env["TORCH_EXTENSIONS_DIR"] = str(extensions_dir)
    command = [*launcher, SCRIPT, "--out", str(out_dir), "--per-device-batch", str(per_device_batch), *flags]
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    with open(os.path.join(out_dir, "result.json")) as f:
        return json.load(f)


def torchrun(out_dir, nproc: int, per_device_batch: int, *flags: str) -> dict:
    launcher = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={nproc}",
        f"--master_port={free_port()}",
    ]
    return run(launcher, out_dir, per_device_batch, *flags)


def zero3(out_dir, nproc: int, per_device_batch: int, extensions_dir, *flags: str) -> dict:
    launcher = [
        sys.executable, "-m", "accelerate.commands.launch", "--config_file", ZERO3_CPU,
        "--num_processes", str(nproc), "--main_process_port", str(free_port()),
    ]  # fmt: skip
    return run(launcher, out_dir, per_device_batch, *flags, extensions_dir=extensions_dir)


def one_and_two_processes(tmp_path_factory, launch, *flags) -> tuple[dict, dict]:
    """The same 12-row generation batches on 1 process (6 rows x 2 micro-steps) and on 2 (3 rows x 2 micro-steps
    each). With 2 processes each holds 6 rows, so the group of rows 4-7 is split across them."""
    one = launch(tmp_path_factory.mktemp("one"), 1, 6, *flags)
    return one, launch(tmp_path_factory.mktemp("two"), 2, 3, *flags)


def assert_same_decisions(expected: dict, got: dict) -> None:
    for a, b in zip(expected["batches"], got["batches"], strict=True):
        assert b["sources"] == a["sources"]
        assert b["rewards"]["accuracy_reward"] == a["rewards"]["accuracy_reward"]
        assert b["advantages"] == pytest.approx(a["advantages"], abs=1e-6)


@pytest.fixture(scope="module")
def canned_runs(tmp_path_factory):
    return one_and_two_processes(tmp_path_factory, torchrun, "--canned")


def test_two_processes_make_the_same_splice_decisions_as_one(canned_runs):
    one, two = canned_runs
    assert (one["world_size"], two["world_size"]) == (1, 2)
    assert len(one["batches"]) == len(two["batches"]) == 2
    assert_same_decisions(one, two)
    for single, split in zip(one["batches"], two["batches"], strict=True):
        for g in range(3):  # exactly one teacher row in every group of 4, including the split one
            assert sum(s != "policy" for s in single["sources"][4 * g : 4 * g + 4]) == 1
        assert split["rewards"]["oger_exploration"] == pytest.approx(single["rewards"]["oger_exploration"], abs=1e-6)


def test_two_processes_train_with_real_generation(tmp_path):
    result = torchrun(tmp_path, 2, 3, "--steps", "3")
    assert result["world_size"] == 2 and len(result["losses"]) == 3
    for batch in result["batches"]:
        assert sum(s != "policy" for s in batch["sources"]) == 3  # one teacher row per group


@pytest.fixture(scope="module")
def zero3_runs(tmp_path_factory):
    extensions = tmp_path_factory.mktemp("torch_extensions")
    launch = lambda out, nproc, batch, *flags: zero3(out, nproc, batch, extensions, *flags)  # noqa: E731
    return one_and_two_processes(tmp_path_factory, launch, "--canned")


def test_zero3_partitions_the_policy_but_not_the_encoder(zero3_runs, canned_runs):
    for run_result in (*zero3_runs, *canned_runs):
        assert not run_result["encoder_partitioned"]
    assert all(r["policy_partitioned"] for r in zero3_runs)
    assert not any(r["policy_partitioned"] for r in canned_runs)
    reference = torch.tensor(canned_runs[0]["probe_embeddings"])
    for r in zero3_runs:  # the encoder under ZeRO-3 embeds exactly as without DeepSpeed
        torch.testing.assert_close(torch.tensor(r["probe_embeddings"]), reference)


@pytest.mark.parametrize("world", [1, 2])
def test_zero3_makes_the_same_decisions_and_losses_as_plain_runs(zero3_runs, canned_runs, world):
    plain, deepspeed = canned_runs[world - 1], zero3_runs[world - 1]
    assert deepspeed["world_size"] == world
    assert_same_decisions(plain, deepspeed)
    assert deepspeed["losses"] == pytest.approx(plain["losses"], rel=1e-4, abs=1e-6)


@pytest.fixture(scope="module")
def guided_runs(tmp_path_factory):
    return one_and_two_processes(tmp_path_factory, torchrun, "--guidance")


def test_rgpo_with_groups_split_across_processes_decides_as_one_process(guided_runs):
    one, two = guided_runs
    assert two["world_size"] == 2 and len(two["losses"]) == len(one["losses"]) == 2
    assert_same_decisions(one, two)
    guided = split_group = 0
    for single in one["batches"]:
        guided += single["sources"].count("guided")
        split_group += "guided" in single["sources"][4:8]  # rows 4-7: 4-5 on process 0, 6-7 on process 1
    assert guided > 0 and split_group > 0  # transfers happened, also into a group split across the processes


@pytest.fixture(scope="module", params=["representation", "helpers.nearest_teacher_bonus"])
def bonus_runs(request, tmp_path_factory):
    return one_and_two_processes(tmp_path_factory, torchrun, "--canned", "--bonus", request.param)


def test_exploration_bonuses_decide_as_one_process_when_groups_span_processes(bonus_runs):
    """The representation bonus (hidden states from TRL's no-grad pass, gathered) and a user bonus (gathered sentence
    embeddings, teachers per group) pay the split group what one process pays it."""
    one, two = bonus_runs
    assert_same_decisions(one, two)
    for single, split in zip(one["batches"], two["batches"], strict=True):
        assert split["rewards"]["oger_exploration"] == pytest.approx(single["rewards"]["oger_exploration"], abs=1e-5)
    assert any(v > 0 for batch in one["batches"] for v in batch["rewards"]["oger_exploration"])


@pytest.fixture(scope="module")
def self_teacher_runs(tmp_path_factory):
    return one_and_two_processes(tmp_path_factory, torchrun, "--canned", "--self-teachers", "2")


def test_the_self_teacher_pool_is_the_same_on_every_process(self_teacher_runs):
    """The pool grows from gathered rows: a group split across processes splices the same self-teacher."""
    one, two = self_teacher_runs
    assert_same_decisions(one, two)
    assert all(s == "policy" for s in one["batches"][0]["sources"])  # no dataset teachers, an empty pool
    assert "teacher:self" in one["batches"][1]["sources"]  # prompts met again splice their own earlier answers
