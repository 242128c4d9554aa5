"""Load a table of rows from a local file, a saved dataset folder or the Hub, with errors that name the file."""

import json
import os

from datasets import Dataset, load_dataset, load_from_disk

from ..errors import UsageError
from ..paths import DATA_EXTENSIONS, is_local_path


def load_table(path_or_id: str, split: str = "train") -> Dataset:
    """A local parquet/jsonl/json/csv file, a folder saved with `save_to_disk`, or a Hub dataset id (`split`)."""
    if not is_local_path(path_or_id):
        return load_dataset(path_or_id, split=split)
    path = os.path.expanduser(path_or_id)
    if os.path.isdir(path):
        return load_from_disk(path)
    if not os.path.isfile(path):
        raise UsageError(f"Data file {path_or_id!r} not found (a local path, so the Hub was not asked).")
    extension = os.path.splitext(path)[1].lower()
    if extension not in DATA_EXTENSIONS:
        raise UsageError(
            f"Data file {path_or_id!r}: unsupported extension {extension!r}; use one of {list(DATA_EXTENSIONS)}."
        )
    if os.path.getsize(path) == 0:
        raise UsageError(f"Data file {path_or_id!r} is empty: it holds no rows.")
    reader = DATA_EXTENSIONS[extension]
    problem = _non_utf8_line(path) if reader in ("json", "csv") else _parquet_problem(path)
    if problem:  # checked first: pyarrow loads non-UTF-8 text and fails later; datasets hides why a parquet fails
        raise UsageError(f"Data file {path_or_id!r} {problem}")
    try:
        table = load_dataset(reader, data_files=path, split="train")
    except Exception as err:  # datasets wraps the reader's error; say what is wrong with the file instead
        reason = (_bad_json_line(path) if reader == "json" else None) or _unreadable_reason(err)
        raise UsageError(f"Data file {path_or_id!r} cannot be read: {reason}") from err
    if len(table) == 0:
        raise UsageError(f"Data file {path_or_id!r} holds no rows.")
    return table


def _non_utf8_line(path: str) -> str | None:
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as err:
                return (
                    f"cannot be read: line {number} is not UTF-8 ({err.reason} at byte {err.start}); save it as UTF-8."
                )
    return None


def _bad_json_line(path: str) -> str | None:
    """The first line of a JSON Lines file that is not JSON, counted from 1 like an editor; None for a file that is
    one JSON document (its error stays the reader's)."""
    with open(path, encoding="utf-8") as f:
        lines = list(f)
    if not lines or not lines[0].lstrip().startswith("{"):
        return None
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                json.loads(line.rstrip("\n"))
            except json.JSONDecodeError as err:
                return (
                    f"line {number} is not valid JSON ({err.msg}, column {err.colno}); each line must be one object."
                )
    return None


def _parquet_problem(path: str) -> str | None:
    import pyarrow.parquet as pq

    try:
        rows = pq.ParquetFile(path).metadata.num_rows
    except Exception as err:  # pyarrow's ArrowInvalid and OSError variants
        return f"cannot be read: not a readable parquet file, e.g. truncated or corrupt ({err})."
    return "holds no rows." if rows == 0 else None


def _unreadable_reason(err: Exception) -> str:
    cause = err
    while cause.__cause__ is not None and str(cause.__cause__):
        cause = cause.__cause__
    return f"{type(cause).__name__}: {cause}"


def save_table(dataset: Dataset, path: str) -> None:
    """Write `dataset` as parquet (`.parquet`) or JSON lines (`.jsonl`/`.json`)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    extension = os.path.splitext(path)[1].lower()
    if extension == ".parquet":
        dataset.to_parquet(path)
    elif extension in (".jsonl", ".json"):
        dataset.to_json(path, lines=True, force_ascii=False)
    else:
        raise UsageError(f"Unsupported output format {extension!r}: use .parquet or .jsonl")
