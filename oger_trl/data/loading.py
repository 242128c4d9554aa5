"""Load a table of rows from a local file, a saved dataset folder or the Hub."""

import os

from datasets import Dataset, load_dataset, load_from_disk

_FORMATS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".csv": "csv"}


def load_table(path_or_id: str, split: str = "train") -> Dataset:
    """A local parquet/jsonl/json/csv file, a folder saved with `save_to_disk`, or a Hub dataset id (`split`)."""
    extension = os.path.splitext(path_or_id)[1].lower()
    if os.path.isfile(path_or_id) and extension in _FORMATS:
        return load_dataset(_FORMATS[extension], data_files=path_or_id, split="train")
    if os.path.isdir(path_or_id):
        return load_from_disk(path_or_id)
    return load_dataset(path_or_id, split=split)


def save_table(dataset: Dataset, path: str) -> None:
    """Write `dataset` as parquet (`.parquet`) or JSON lines (`.jsonl`/`.json`)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    extension = os.path.splitext(path)[1].lower()
    if extension == ".parquet":
        dataset.to_parquet(path)
    elif extension in (".jsonl", ".json"):
        dataset.to_json(path, lines=True, force_ascii=False)
    else:
        raise ValueError(f"Unsupported output format {extension!r}: use .parquet or .jsonl")
