"""Which questions a model was trained on, so that an evaluation can say when a benchmark is not held out.

`oger-trl train` writes `training_questions.json` next to the model: one short hash per training prompt, of the
question text normalised (the known answer-format instructions removed, case, spacing and punctuation folded).
`oger-trl evaluate` hashes each benchmark question the same way and reports the overlap. A prompt written with an
instruction this package does not know keeps it, so its overlap can go unnoticed (no false alarms, possible misses).
"""

import hashlib
import json
import os
import re

from ..data.gsm8k import INSTRUCTION as GSM8K_INSTRUCTION
from ..data.openr1 import OPENR1_INSTRUCTION
from .benchmarks import CHOICE_INSTRUCTION, MATH_INSTRUCTION

TRAINING_QUESTIONS_FILE = "training_questions.json"
KNOWN_INSTRUCTIONS = (GSM8K_INSTRUCTION, OPENR1_INSTRUCTION, MATH_INSTRUCTION, CHOICE_INSTRUCTION)
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def question_key(text: str) -> str:
    """A 16-hex-digit hash of the question: known instructions removed, lower case, only letters and digits kept."""
    for instruction in KNOWN_INSTRUCTIONS:
        text = text.replace(instruction, " ")
    normalised = _NOT_WORD.sub(" ", text.lower()).strip()
    return hashlib.blake2b(normalised.encode("utf-8"), digest_size=8).hexdigest()


def prompt_text(prompt: str | list[dict]) -> str:
    """The question of a TRL prompt: the string, or the last user message of a conversation."""
    if isinstance(prompt, str):
        return prompt
    return next((m["content"] for m in reversed(prompt) if m.get("role") == "user"), "")


def write_training_questions(prompts, output_dir: str) -> str:
    """Record the training questions' keys in `output_dir` (sorted, deduplicated)."""
    keys = sorted({question_key(prompt_text(p)) for p in prompts})
    path = os.path.join(output_dir, TRAINING_QUESTIONS_FILE)
    os.makedirs(output_dir, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"format": "oger-trl/training-questions/1", "keys": keys}, f)
    return path


def overlap_counts(benchmarks, trained: set[str]) -> dict[str, int]:
    """Per benchmark (from `load_items`), how many of its questions are among the `trained` keys."""
    return {
        benchmark.name: sum(question_key(item.prompt) in trained for item in items) for benchmark, items in benchmarks
    }


def read_training_questions(*folders: str | None) -> set[str] | None:
    """The recorded keys from the first folder that has them; None when no folder records its training questions."""
    for folder in folders:
        path = os.path.join(folder, TRAINING_QUESTIONS_FILE) if folder else ""
        if path and os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                return set(json.load(f)["keys"])
    return None
