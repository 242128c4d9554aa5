"""A folder that collects one run's outputs across interruptions: the run's identity (model and the settings its
outputs depend on) is recorded on first use, and a later run with another identity is refused, so resumed outputs are
never mixed with another run's. Shared by `evaluate` (samples) and `generate` (teacher traces)."""

import json
import os

from .errors import UsageError

RUN_RECORD = "run.json"  # the identity of the run whose outputs the folder holds


def claim_folder(folder: str, identity: dict, data_dir: str, what: str, option: str = "--output") -> str:
    """Record which run writes `what` (e.g. "samples") into `folder/data_dir`; refuse a folder holding another run's
    outputs, or outputs with no record of their run (a record whose run wrote nothing is replaced). Returns the data
    folder, created if needed."""
    record = os.path.join(folder, RUN_RECORD)
    data_path = os.path.join(folder, data_dir)
    differences = []
    if os.path.exists(record):
        with open(record, encoding="utf-8") as f:
            recorded = json.load(f)
        differences = [
            f"{key}: {recorded.get(key)!r} there, {identity.get(key)!r} now"
            for key in sorted(set(recorded) | set(identity))
            if recorded.get(key) != identity.get(key)
        ]
        if differences and _holds_data(data_path):
            raise UsageError(
                f"{folder!r} holds the {what} of another run ({'; '.join(differences)}): they would be reported as "
                f"this run's. Give another {option}, or delete the folder to start fresh."
            )
    elif _holds_data(data_path):
        raise UsageError(
            f"{folder!r} holds {what} with no record of the model and settings that produced them. Give another "
            f"{option}, or delete the folder to start fresh."
        )
    os.makedirs(data_path, exist_ok=True)
    if not os.path.exists(record) or differences:
        write_json_atomically(identity, record)
    return data_path


def replace_atomically(path: str, write) -> None:
    """`write(tmp)`, then `tmp` renamed to `path`: processes sharing a folder never read a half-written file, and
    when several write the same file at once the last rename wins whole."""
    tmp = f"{path}.{os.getpid()}.tmp{os.path.splitext(path)[1]}"  # the extension last: writers infer the format
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:  # an interrupted write (Ctrl-C included) leaves no half file beside the whole one
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json(data: dict, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)


def write_json_atomically(data: dict, path: str) -> None:
    """`write_json` through `replace_atomically`, creating the folder: `path` is never left half-written."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    replace_atomically(path, lambda tmp: write_json(data, tmp))


def _holds_data(path: str) -> bool:
    """A run that wrote nothing (it stopped before its first output) leaves nothing to protect."""
    return os.path.isdir(path) and any(os.path.getsize(os.path.join(path, n)) for n in os.listdir(path))
