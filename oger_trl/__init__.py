"""oger-trl: OGER (Offline-Guided Exploration Reward, arXiv 2604.18530) as a TRL extension."""

import warnings

import trl
from packaging.version import Version

from .config import OGERConfig
from .data import DatasetContractError, validate_oger_dataset
from .encoder import SentenceEncoder
from .teacher_cache import TeacherEmbeddings
from .trainer import OGERTrainer, SampleSource

__version__ = "0.1.0"

TESTED_TRL = (Version("1.16"), Version("1.17"))
if not TESTED_TRL[0] <= Version(trl.__version__) < TESTED_TRL[1]:
    warnings.warn(
        f"oger-trl is tested with trl>=1.16,<1.17 (it hooks GRPOTrainer internals that move between releases); "
        f"trl {trl.__version__} is installed.",
        stacklevel=2,
    )

__all__ = [
    "DatasetContractError",
    "OGERConfig",
    "OGERTrainer",
    "SampleSource",
    "SentenceEncoder",
    "TeacherEmbeddings",
    "validate_oger_dataset",
]
