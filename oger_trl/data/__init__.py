"""The OGER dataset contract and its validation."""

from .contract import DatasetContractError, DatasetSummary, validate_oger_dataset

__all__ = ["DatasetContractError", "DatasetSummary", "validate_oger_dataset"]
