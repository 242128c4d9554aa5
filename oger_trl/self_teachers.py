"""The self-teacher pool: correct online completions of earlier steps that join their prompt's teacher set as teacher
`self` (the official OGER script's unused `use_history_samples` idea, an experience pool in the spirit of ExGRPO).

Every process holds the same pool: it is updated from gathered rows only, by a pure rule (`kept_completions`), in the
order of the gathered batch. Entries keep the sentence embedding computed when they were generated, so the divergence
against them never re-encodes (and a resumed run, which loads them from the checkpoint, computes the same values).
"""

import json
import math
import os
from dataclasses import dataclass

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

SELF_TEACHER = "self"  # the teacher name of pool entries: completion table `teacher:self`, `oger/splices/self`
SELECTIONS = ("latest", "most_divergent")
POOL_FILE = "oger_self_teachers.safetensors"


@dataclass(frozen=True)
class SelfCompletion:
    text: str
    embedding: torch.Tensor  # (d,) unit-norm sentence embedding
    divergence: float  # D from the prompt's teachers (self-teachers included) when generated; NaN without teachers
    step: int  # global step of the batch that generated it


def prompt_key(prompt) -> str:
    """A stable key of a prompt (a string or a list of messages)."""
    return json.dumps(prompt, sort_keys=True, ensure_ascii=False)


def kept_completions(
    existing: list[SelfCompletion], new: list[SelfCompletion], capacity: int, selection: str
) -> list[SelfCompletion]:
    """A prompt's pool after `new` (in batch order) try to join `existing`: texts already present are skipped, then
    at most `capacity` remain. `"latest"`: the most recently generated (later in the batch counts as later).
    `"most_divergent"`: the highest divergence (NaN lowest), ties to the more recent."""
    texts = {entry.text for entry in existing}
    merged = list(existing)
    for entry in new:
        if entry.text not in texts:
            texts.add(entry.text)
            merged.append(entry)
    if selection == "latest":
        return merged[-capacity:]
    if selection == "most_divergent":
        order = sorted(
            range(len(merged)),
            key=lambda i: (-math.inf if math.isnan(merged[i].divergence) else merged[i].divergence, i),
            reverse=True,
        )
        return [merged[i] for i in sorted(order[:capacity])]
    raise ValueError(f"Unknown self-teacher selection {selection!r}")


class SelfTeacherPool:
    """At most `capacity` self-teacher completions per prompt, chosen by `selection`."""

    def __init__(self, capacity: int, selection: str):
        self.capacity, self.selection = capacity, selection
        self.entries: dict[str, list[SelfCompletion]] = {}

    def __len__(self) -> int:
        return sum(len(entries) for entries in self.entries.values())

    def of(self, prompt) -> list[SelfCompletion]:
        return self.entries.get(prompt_key(prompt), [])

    def add(self, prompts: list, completions: list[SelfCompletion]) -> None:
        """Offer `completions[i]` (generated for `prompts[i]`, in gathered batch order) to the pool."""
        offered: dict[str, list[SelfCompletion]] = {}
        for prompt, completion in zip(prompts, completions, strict=True):
            offered.setdefault(prompt_key(prompt), []).append(completion)
        for key, new in offered.items():
            self.entries[key] = kept_completions(self.entries.get(key, []), new, self.capacity, self.selection)

    def save(self, directory: str) -> None:
        """One safetensors file: the embeddings as a tensor, the texts and their metadata in the header."""
        flat = [(key, entry) for key, entries in sorted(self.entries.items()) for entry in entries]
        embeddings = torch.stack([e.embedding for _, e in flat]) if flat else torch.zeros(0, 0)
        metadata = [dict(prompt=k, text=e.text, divergence=e.divergence, step=e.step) for k, e in flat]
        path = os.path.join(directory, POOL_FILE)
        save_file({"embeddings": embeddings.contiguous()}, path, {"entries": json.dumps(metadata)})

    def load(self, directory: str) -> None:
        """Replace the pool with the one saved in `directory` (no file: an empty pool, as saved before any entry)."""
        path = os.path.join(directory, POOL_FILE)
        self.entries = {}
        if not os.path.exists(path):
            return
        with safe_open(path, "pt") as f:
            metadata = json.loads(f.metadata()["entries"])
        embeddings = load_file(path)["embeddings"]
        for i, item in enumerate(metadata):
            entry = SelfCompletion(item["text"], embeddings[i], item["divergence"], item["step"])
            self.entries.setdefault(item["prompt"], []).append(entry)
