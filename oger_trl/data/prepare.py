"""Build OGER datasets from teacher traces: filter each trace, merge them per problem, and report what was kept.

Converters (`openr1.py`, `gsm8k.py`) turn their source format into `Problem`s holding candidate `Trace`s; `assemble`
applies the same filters to every source and returns rows in the OGER contract with a `PrepareReport`.
"""

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from datasets import Dataset

THINK_OPEN = "<think>\n"


@dataclass
class Trace:
    teacher: str
    text: str | None  # None: the source trace could not be converted (e.g. it has no final answer)
    correct: bool


@dataclass
class Problem:
    prompt: str | list[dict]
    solution: str
    traces: list[Trace] = field(default_factory=list)
    rationale: str | None = None  # a reference solution, the hint of RGPO guidance


@dataclass
class PrepareReport:
    """What `assemble` kept and dropped, per teacher and per reason."""

    problems: int = 0
    problems_without_teachers: int = 0
    answer_conflicts: int = 0
    kept: Counter = field(default_factory=Counter)
    dropped: dict[str, Counter] = field(default_factory=dict)

    def drop(self, reason: str, teacher: str) -> None:
        self.dropped.setdefault(reason, Counter())[teacher] += 1

    def to_dict(self) -> dict:
        return {
            "problems": self.problems,
            "problems_with_teachers": self.problems - self.problems_without_teachers,
            "problems_without_teachers": self.problems_without_teachers,
            "answer_conflicts": self.answer_conflicts,
            "kept_traces": dict(sorted(self.kept.items())),
            "dropped_traces": {reason: dict(sorted(c.items())) for reason, c in sorted(self.dropped.items())},
        }

    def __str__(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def normalize_problem(text: str) -> str:
    """The key on which problems from several sources are merged: case and whitespace do not matter."""
    return re.sub(r"\s+", " ", text).strip().casefold()


def assemble(
    problems: Iterable[Problem],
    *,
    count_tokens: Callable[[str], int] | None = None,
    max_tokens: int | None = None,
    strip_think: bool = False,
    report: PrepareReport | None = None,
) -> tuple[Dataset, PrepareReport]:
    """OGER rows from problems: keep correct traces, drop those longer than `max_tokens` (counted by `count_tokens`,
    plus one EOS) and duplicates, and strip a leading `<think>\\n` when the chat template already opens it."""
    if max_tokens is not None and count_tokens is None:
        raise ValueError("`max_tokens` needs `count_tokens` (a tokenizer) to measure the traces.")
    report = report or PrepareReport()
    rows = []
    for problem in problems:
        texts, names = [], []
        for trace in problem.traces:
            reason = _drop_reason(trace, texts, count_tokens, max_tokens, strip_think)
            if reason:
                report.drop(reason, trace.teacher)
                continue
            texts.append(_strip(trace.text, strip_think))
            names.append(trace.teacher)
            report.kept[trace.teacher] += 1
        report.problems += 1
        report.problems_without_teachers += not texts
        rows.append(
            {
                "prompt": problem.prompt,
                "solution": problem.solution,
                "teacher_completions": texts,
                "teacher_sources": names,
                "rationale": problem.rationale,
            }
        )
    return Dataset.from_list(rows), report


def _strip(text: str, strip_think: bool) -> str:
    return text[len(THINK_OPEN) :] if strip_think and text.startswith(THINK_OPEN) else text


def _drop_reason(trace: Trace, kept: list[str], count_tokens, max_tokens, strip_think) -> str | None:
    if trace.text is None:
        return "unparsable"
    if not trace.correct:
        return "incorrect"
    text = _strip(trace.text, strip_think)
    if text in kept:
        return "duplicate"
    if max_tokens is not None and count_tokens(text) + 1 > max_tokens:
        return "too_long"
    return None
