"""The path of one generation batch through `OGERTrainer`: what TRL's `_generate` returns, where each row comes from,
and the per-batch context that carries them from hook to hook.

TRL calls the hooks one after the other for a batch (`_generate_and_score_completions` → `_generate` → TRL's no-grad
log-prob pass → `_calculate_rewards`) with fixed signatures, so what a later hook needs travels in one `BatchContext`,
opened around the whole batch by `open_batch` and closed (whatever happens) when it returns. It lives in a context
variable, not on the trainer: nothing outlives the batch.
"""

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, NamedTuple

import torch


class GenerationOutput(NamedTuple):
    """`GRPOTrainer._generate`'s return value (TRL 1.16), by name. The lists are per local row and rewritten in place
    by the splice and the RGPO transfer."""

    prompt_ids: list[list[int]]
    completion_ids: list[list[int]]
    tool_mask: list[list[int]] | None
    completions: list  # strings, or one assistant message per row
    logprobs: list[list[float]] | None  # sampling log-probs (vLLM), else None
    extra_fields: dict[str, Any]
    images: Any
    tool_images: Any


class SampleSource(IntEnum):
    """Where a completion of a hybrid group comes from; carried through TRL's shuffle and split as `sample_source`."""

    POLICY = 0
    TEACHER = 1
    GUIDED = 2  # RGPO: generated with the rationale as a hint, trained under the unguided prompt


@dataclass(frozen=True)
class RowOrigin:
    """Where one row of the batch comes from, decided once: by the policy, a named teacher, or RGPO guidance."""

    source: SampleSource
    teacher: str | None = None

    @property
    def label(self) -> str:
        """The completion table's `source`: "policy", "teacher:<name>" or "guided"."""
        if self.source == SampleSource.TEACHER:
            return f"teacher:{self.teacher}"
        return "policy" if self.source == SampleSource.POLICY else "guided"


POLICY = RowOrigin(SampleSource.POLICY)
GUIDED = RowOrigin(SampleSource.GUIDED)


@dataclass
class BatchContext:
    """What OGER learns about the local rows of one generation batch, from `_generate` until the batch is scored."""

    rows: list[dict]  # the dataset rows TRL passed in (teachers, rationales)
    origins: list[RowOrigin] = field(default_factory=list)
    prompt_ids: list[list[int]] = field(default_factory=list)
    divergence: torch.Tensor | None = None  # (B_local,) D of the online rows; NaN for the others and without teachers
    entropies: torch.Tensor | None = None  # (B_local, >= C) per-token policy entropies, when some pass gave them
    states: torch.Tensor | None = None  # (B_local, >= C, h) hidden states producing each token, when recorded
    online_embeddings: torch.Tensor | None = None  # (B_local, d) sentence embeddings of the online completions
    teacher_embeddings: list[torch.Tensor] = field(default_factory=list)  # per local row, (M_i, d) of its teachers
    oger_applies: bool = True  # False when TRL's tools, environments or rollout_func made the rows (OGER off)

    def left_to_trl(self, num_rows: int) -> None:
        """The rows are TRL's alone: all online, no divergence, no exploration reward."""
        self.oger_applies = False
        self.origins = [POLICY] * num_rows

    @property
    def is_policy(self) -> torch.Tensor:
        return torch.tensor([origin.source == SampleSource.POLICY for origin in self.origins])

    @property
    def sample_source(self) -> list[int]:
        return [int(origin.source) for origin in self.origins]


_CURRENT_BATCH: ContextVar[BatchContext | None] = ContextVar("oger_batch", default=None)


@contextlib.contextmanager
def open_batch(rows: list[dict]) -> Iterator[BatchContext]:
    """The context of the batch generated from `rows`, current until the block ends."""
    token = _CURRENT_BATCH.set(BatchContext(rows))
    try:
        yield _CURRENT_BATCH.get()
    finally:
        _CURRENT_BATCH.reset(token)


def current_batch() -> BatchContext | None:
    """The batch being generated and scored, or None outside `open_batch` (e.g. in the loss)."""
    return _CURRENT_BATCH.get()
