"""The `oger-trl` console script end to end, offline: embed a recipe's teachers, then train the CPU recipe from the
command line (reusing that cache), with a model card naming the teachers and the recipe; a Hub push that cannot
happen fails at once with a clear message."""

import os
import subprocess
import sys
import time

import pytest
from helpers import arithmetic_dataset

ROOT = os.path.join(os.path.dirname(__file__), "..")
CPU_RECIPE = os.path.join("recipes", "SmolLM2-135M-Instruct", "oger", "config_cpu.yaml")
OGER_TRL = os.path.join(os.path.dirname(sys.executable), "oger-trl")


def oger_trl(*args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "2", **(env or {})}
    return subprocess.run(
        [OGER_TRL, *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def recipe_args(tmp_path_factory):
    work = tmp_path_factory.mktemp("cli")
    data = str(work / "arithmetic.parquet")
    arithmetic_dataset(8, conversational=True).to_parquet(data)
    return work, [
        "--config", CPU_RECIPE, "--dataset_name", data, "--teacher_cache_dir", str(work / "cache"),
        "--output_dir", str(work / "run"), "--max_completion_length", "48",
    ]  # fmt: skip


def cache_files(cache_dir) -> dict:
    return {name: (os.stat(os.path.join(cache_dir, name)).st_ino, os.stat(os.path.join(cache_dir, name)).st_mtime_ns)
            for name in os.listdir(cache_dir)}  # fmt: skip


def test_embed_then_train_the_cpu_recipe_from_the_command_line(recipe_args):
    work, args = recipe_args
    embedded = oger_trl("embed", *args)
    assert embedded.returncode == 0, embedded.stderr[-4000:]
    assert "train: teacher embeddings cached at" in embedded.stdout
    before = cache_files(work / "cache")
    assert len(before) == 1
    again = oger_trl("embed", *args)
    assert again.returncode == 0 and "train: teacher embeddings already cached at" in again.stdout
    assert "nothing to encode" in again.stdout and cache_files(work / "cache") == before

    trained = oger_trl("train", *args, "--max_steps", "2")
    assert trained.returncode == 0, trained.stderr[-4000:]
    assert cache_files(work / "cache") == before  # train read the file embed wrote: no re-encoding, no rewrite
    run = work / "run"
    assert (run / "model.safetensors").exists() and (run / "config.json").exists()
    card = (run / "README.md").read_text()
    assert "trained with OGER" in card and "https://huggingface.co/papers/2604.18530" in card
    assert "- Teachers: alice (8 completions), bob (8 completions), carol (8 completions)" in card
    assert f"- Recipe: `{CPU_RECIPE}`" in card
    assert "None" not in card and "huggingface.co/datasets" not in card  # local model and data: paths, not Hub links
    assert "# Model Card for run" in card and f"on the local dataset `{args[3]}`." in card
    assert (run / "training_questions.json").exists()  # for `oger-trl evaluate` to flag trained-on benchmarks


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({}, "HF_HUB_OFFLINE is set"),
        ({"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://127.0.0.1:9"}, "http://127.0.0.1:9 did not answer"),
    ],
    ids=["offline-mode", "no-network"],
)
def test_a_push_without_the_hub_fails_at_once_with_a_clear_message(recipe_args, env, reason):
    work, args = recipe_args
    if env:  # online: a copy of the recipe without its `env: HF_HUB_OFFLINE: "1"`, which would win (applied first)
        with open(os.path.join(ROOT, CPU_RECIPE)) as f:
            recipe = f.read().split("\nenv:")[0]
        (work / "online.yaml").write_text(recipe)
        args = [str(work / "online.yaml") if a == CPU_RECIPE else a for a in args]
    start = time.monotonic()
    result = oger_trl("train", *args, "--push_to_hub", "true", "--hub_model_id", "someone/model", env=env, timeout=120)
    assert result.returncode != 0
    assert "oger-trl train: error: Cannot push the model (push_to_hub=True): the Hugging Face Hub is unreachable" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert reason in result.stderr
    assert time.monotonic() - start < 60


def test_usage_and_unknown_commands():
    assert "train     run an OGER recipe" in oger_trl("--help").stdout
    unknown = oger_trl("fly")
    assert unknown.returncode != 0 and "unknown command 'fly'" in unknown.stderr
