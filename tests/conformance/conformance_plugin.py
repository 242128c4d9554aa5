"""pytest plugin of the conformance run: `run.py` loads it with `-p conformance_plugin` before the vendored TRL tests
are imported. It

- makes the run offline and points the Hub cache at the stand-in fixtures (`fixtures.py`);
- redirects `datasets.load_dataset("trl-internal-testing/zen", ...)` to the local zen parquet files;
- skips a test that asks for a `trl-internal-testing/...` model or dataset without a stand-in ("stand-in not built");
- in mode B or C (`OGER_CONFORMANCE_MODE`), replaces `trl.GRPOTrainer` / `trl.GRPOConfig` with `OGERTrainer` and the
  mode's config class, and in mode C gives every training split a `teacher_completions` / `teacher_sources` column.

Modes: A = TRL's GRPOTrainer/GRPOConfig; B = OGERTrainer with OGER off by default (`num_offline_per_group=0`,
`exploration_coef=0`), datasets unchanged; C = OGERTrainer with OGER's defaults and teacher columns on training splits.
"""

import os
import shutil
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixtures import (
    TEACHERS,
    default_fixture_dir,
    hub_cache,
    read_manifest,
    repo_folder,
    zen_dir,
)

MODES = ("A", "B", "C")
MODE = os.environ.get("OGER_CONFORMANCE_MODE", "A").strip().upper()
if MODE not in MODES:
    raise pytest.UsageError(f"OGER_CONFORMANCE_MODE must be one of {MODES}, got {MODE!r}")
FIXTURES = default_fixture_dir()
if read_manifest(FIXTURES) is None:
    raise pytest.UsageError(f"No stand-in fixtures in {FIXTURES}: run `python tests/conformance/fixtures.py` first.")
_RUN_DIR = Path(tempfile.mkdtemp(prefix=f"oger-conformance-{MODE}-"))
_HUB_CACHE = str(hub_cache(FIXTURES))
if os.environ.get("HF_HUB_CACHE") != _HUB_CACHE and "huggingface_hub" in sys.modules:  # read at its import
    raise pytest.UsageError("conformance_plugin must load before huggingface_hub is imported (use `-p`).")
os.environ.update(
    HF_HUB_OFFLINE="1",
    HF_DATASETS_OFFLINE="1",
    TRANSFORMERS_OFFLINE="1",
    HF_HUB_DISABLE_TELEMETRY="1",
    HF_HUB_CACHE=_HUB_CACHE,
    HF_DATASETS_CACHE=str(_RUN_DIR / "datasets"),
    OGER_TRL_CACHE=str(_RUN_DIR / "teacher_embeddings"),  # OGERConfig.teacher_cache_dir=None reads it
    TOKENIZERS_PARALLELISM="false",
    WANDB_DISABLED="true",
)

# Loopback only: a test that tries the network fails loudly instead of hanging (as in the project's tests/conftest).
_connect = socket.socket.connect


def _loopback_only(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if self.family == socket.AF_UNIX or host in ("127.0.0.1", "localhost", "::1", "0.0.0.0"):
        return _connect(self, address)
    raise RuntimeError(f"network access attempted in the conformance run: {address}")


socket.socket.connect = _loopback_only

import datasets  # noqa: E402
import transformers.utils.hub as hf_hub_utils  # noqa: E402
from datasets import DatasetDict, Features, IterableDatasetDict, List, Value  # noqa: E402

ORG = "trl-internal-testing/"
ZEN = "trl-internal-testing/zen"
TEACHER_COLUMN, SOURCES_COLUMN = "teacher_completions", "teacher_sources"
_original_load_dataset = datasets.load_dataset


def teacher_row(index: int) -> dict:
    """Mode C's teachers of row `index`: one teacher on even rows, two on odd rows."""
    texts, names = TEACHERS[index % len(TEACHERS)]
    return {TEACHER_COLUMN: list(texts), SOURCES_COLUMN: list(names)}


def with_teachers(dataset):
    """`dataset` (a Dataset or IterableDataset) with the teacher columns added, features kept."""
    features = dataset.features
    if features is not None:
        features = Features({**features, TEACHER_COLUMN: List(Value("string")), SOURCES_COLUMN: List(Value("string"))})
    return dataset.map(lambda _, index: teacher_row(index), with_indices=True, features=features)


def conformance_load_dataset(path, name=None, *args, split=None, streaming=False, **kwargs):
    """`datasets.load_dataset` with the zen dataset read from the fixtures; other Hub test datasets skip the test."""
    if not isinstance(path, str) or not path.startswith(ORG):
        return _original_load_dataset(path, name, *args, split=split, streaming=streaming, **kwargs)
    if path != ZEN:
        pytest.skip(f"stand-in not built: {path}")
    config = name or kwargs.pop("name", None)
    folder = zen_dir(FIXTURES) / config
    files = {p.stem: str(p) for p in sorted(folder.glob("*.parquet"))}
    if not files:
        raise ValueError(f"zen stand-in has no config {config!r}")
    loaded = _original_load_dataset("parquet", data_files=files, split=split, streaming=streaming)
    if MODE != "C":
        return loaded
    if isinstance(loaded, DatasetDict | IterableDatasetDict):
        return type(loaded)({key: with_teachers(ds) if key == "train" else ds for key, ds in loaded.items()})
    return with_teachers(loaded) if split == "train" else loaded


datasets.load_dataset = conformance_load_dataset

_original_cached_files = hf_hub_utils.cached_files


def _guarded_cached_files(path_or_repo_id, *args, **kwargs):
    """Skip (not fail) a test that loads a `trl-internal-testing` model without a stand-in."""
    repo = str(path_or_repo_id)
    if repo.startswith(ORG) and not os.path.isdir(repo) and not repo_folder(FIXTURES, repo).is_dir():
        pytest.skip(f"stand-in not built: {repo}")
    return _original_cached_files(path_or_repo_id, *args, **kwargs)


hf_hub_utils.cached_files = _guarded_cached_files


# --- the trainer and config substitution --------------------------------------------------------------------------
SUBSTITUTE = None  # (trainer class, config class) in modes B and C
if MODE in ("B", "C"):
    import trl
    import trl.trainer

    import oger_trl.trainer as oger_trainer_module
    from oger_trl import OGERConfig, OGERTrainer

    if MODE == "B":

        @dataclass
        class OGERConfigOGEROff(OGERConfig):
            """OGERConfig with OGER switched off by default: no splice, no exploration reward."""

            num_offline_per_group: int = field(default=0)
            exploration_coef: float = field(default=0.0)

        config_class = OGERConfigOGEROff
    else:
        config_class = OGERConfig
    SUBSTITUTE = (OGERTrainer, config_class)
    for module in (trl, trl.trainer):
        module.GRPOTrainer, module.GRPOConfig = SUBSTITUTE
    # OGERTrainer(args=None) builds its default config from this name: the mode's defaults apply there too.
    oger_trainer_module.OGERConfig = config_class


@pytest.fixture(autouse=True)
def _conformance_module_names(request, monkeypatch):
    """The names the test module imported: the substitutes and the redirected `load_dataset`."""
    module = request.module
    if hasattr(module, "load_dataset"):
        monkeypatch.setattr(module, "load_dataset", conformance_load_dataset)
    if SUBSTITUTE is not None:
        for name, value in zip(("GRPOTrainer", "GRPOConfig"), SUBSTITUTE, strict=True):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, value)


@pytest.fixture(scope="session", autouse=True)
def _conformance_properties(record_testsuite_property):
    """The classes the tests' `GRPOTrainer` / `GRPOConfig` names resolve to, in the junit report."""
    import trl

    for key, value in (("mode", MODE), ("trainer", trl.GRPOTrainer), ("config", trl.GRPOConfig)):
        record_testsuite_property(key, value if isinstance(value, str) else f"{value.__module__}.{value.__qualname__}")


def pytest_report_header(config):
    trainer = "GRPOTrainer/GRPOConfig" if SUBSTITUTE is None else f"{SUBSTITUTE[0].__name__}/{SUBSTITUTE[1].__name__}"
    return [f"oger-trl conformance: mode {MODE} ({trainer}), fixtures {FIXTURES}, scratch {_RUN_DIR}"]


def pytest_unconfigure(config):
    shutil.rmtree(_RUN_DIR, ignore_errors=True)
