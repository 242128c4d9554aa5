"""Local paths versus Hub ids: a name meant as a local file or folder that does not exist is reported as missing,
never sent to the Hub (whose answer, "Repo id must be in the form..." or "cannot reach", would mislead)."""

import os
import re
import tempfile

from .errors import UsageError
from .smollm2 import OFFLINE_NAME

DATA_EXTENSIONS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".csv": "csv"}


def is_local_path(path_or_id: str) -> bool:
    """A path meant as a local file or folder (a data-file extension, or an explicit path), never a Hub id."""
    if os.path.exists(path_or_id):
        return True
    return os.path.splitext(path_or_id)[1].lower() in DATA_EXTENSIONS or path_or_id.startswith(("/", "./", "../", "~"))


def check_model_source(name: str, option: str, local_only: bool = False) -> None:
    """Refuse a model that is meant as a local folder (an explicit path, a path under an existing folder, or not a
    Hub id at all) but does not exist, before anything is loaded."""
    if name == OFFLINE_NAME or os.path.isdir(os.path.expanduser(name)):
        return
    parent = os.path.dirname(name)
    explicit_path = name.startswith(("/", ".", "~")) or bool(parent and os.path.isdir(parent))
    if local_only or explicit_path or not _looks_like_hub_id(name):
        raise UsageError(f"{option} {name!r}: no such folder (and not a Hub id of the form 'owner/name').")


def _looks_like_hub_id(name: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?", name) is not None and ".." not in name


def check_writable_folder(folder: str, option: str, remedy: str = "") -> None:
    """A folder the run writes into: created if missing, refused with the reason when it cannot be created or
    written, so that a run never fails at its first save after the models have loaded. Writing a probe file, not
    `os.access`, tells: root passes `os.access` on a read-only mount."""
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:
        raise UsageError(f"{option} {folder!r} cannot be created ({err.strerror}).{remedy}") from err
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as err:
        raise UsageError(f"{option} {folder!r} is not writable ({err.strerror}).{remedy}") from err


def new_file_mode() -> int:
    """The mode the umask gives a new file (0o644 under the usual 0o022): for files written by libraries or
    `mkstemp` that ignore it (safetensors and `mkstemp` write 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
