"""Which checkpoint a run resumes from. transformers writes a checkpoint's files in place and `trainer_state.json`
last, so a save cut short (SIGINT, a full disk, a preempted node) leaves a `checkpoint-N` without a readable state:
such a folder is skipped, with a message, instead of failing the resume."""

import json
import logging
import os
import re

from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from .errors import UsageError
from .paths import new_file_mode

logger = logging.getLogger(__name__)

TRAINER_STATE = "trainer_state.json"
_CHECKPOINT = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")


def is_complete(checkpoint: str) -> bool:
    """The save finished: `trainer_state.json`, written last, exists and parses."""
    try:
        with open(os.path.join(checkpoint, TRAINER_STATE), encoding="utf-8") as f:
            return "global_step" in json.load(f)
    except (OSError, ValueError):
        return False


def latest_complete_checkpoint(output_dir: str) -> str:
    """The highest-numbered complete `checkpoint-N` in `output_dir`; incomplete newer ones are named in a warning."""
    numbered = []
    if os.path.isdir(output_dir):
        numbered = sorted(
            (int(match.group(1)), os.path.join(output_dir, name))
            for name in os.listdir(output_dir)
            if (match := _CHECKPOINT.match(name)) and os.path.isdir(os.path.join(output_dir, name))
        )
    skipped = []
    for _, path in reversed(numbered):
        if is_complete(path):
            if skipped:
                logger.warning(
                    f"Resuming from {path}: skipped {', '.join(skipped)}, whose save did not finish (no readable "
                    f"{TRAINER_STATE})."
                )
            return path
        skipped.append(path)
    found = f" (incomplete: {', '.join(skipped)})" if skipped else ""
    raise UsageError(f"resume_from_checkpoint=True, but {output_dir!r} holds no complete checkpoint{found}.")


def resume_target(resume_from_checkpoint, output_dir: str) -> str | None:
    """What `resume_from_checkpoint` means, however it was given: True, "true" or "latest" (a command line gives
    strings) is the latest complete checkpoint of `output_dir`; False, None, "false" or "none" a fresh start; any other
    string a checkpoint folder."""
    if isinstance(resume_from_checkpoint, str):
        value = resume_from_checkpoint.strip()
        if value.lower() in ("true", "latest"):
            return latest_complete_checkpoint(output_dir)
        if value.lower() in ("false", "none", ""):
            return None
        if not os.path.isdir(value):
            raise UsageError(f"resume_from_checkpoint {value!r}: no such folder (a checkpoint-N folder, or true).")
        return value
    return latest_complete_checkpoint(output_dir) if resume_from_checkpoint is True else None


def completed_epochs(checkpoint: str) -> int:
    """The epochs a checkpoint's run had finished: Trainer resumes in the next one, skipping its trained steps."""
    with open(os.path.join(checkpoint, TRAINER_STATE), encoding="utf-8") as f:
        return int(json.load(f).get("epoch") or 0)


def follow_umask(folder: str) -> None:
    """Give the files of a saved model the mode the umask gives any new file. safetensors writes weights with mode
    0600 whatever the umask, so a colleague on a shared cluster could not read a model whose folder they can list."""
    mode = new_file_mode()
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if os.path.isfile(path) and not os.path.islink(path):
            os.chmod(path, mode)
