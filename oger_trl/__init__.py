"""oger-trl: OGER (Offline-Guided Exploration Reward, arXiv 2604.18530) as a TRL extension.

The public names load on first use, so that `oger-trl --help` and argument errors answer without importing torch.
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "DatasetContractError": ".data",
    "OGERConfig": ".config",
    "OGERTrainer": ".trainer",
    "SampleSource": ".batch",
    "SentenceEncoder": ".encoder",
    "TeacherEmbeddings": ".teacher_cache",
    "UsageError": ".errors",
    "validate_oger_dataset": ".data",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
