"""The OGER dataset contract (DESIGN.md section 3), checked once before training.

A row is TRL's prompt-only format plus teacher data:
- `prompt`: a string, or conversational messages (a list of `{"role": str, "content": str}`);
- `teacher_completions`: a list of non-empty strings, possibly empty (or null: no teachers). The column may be absent
  where no teachers are needed (an evaluation dataset, or training with OGER switched off): every row then has none;
- `teacher_sources` (optional column): the teacher names, a list aligned with `teacher_completions`;
- `rationale` (optional, RGPO): a reference solution string.
Other columns (e.g. `solution` for `trl.rewards.accuracy_reward`) pass through to the reward functions untouched.
"""

from collections import Counter
from dataclasses import dataclass
from typing import Any

from datasets import Dataset, IterableDataset

from ..errors import UsageError

_VISION_COLUMNS = ("image", "images")
_BATCH = 1024


class DatasetContractError(UsageError):
    """A dataset that does not follow the OGER contract; the message names the dataset, column, row and expectation."""


@dataclass(frozen=True)
class DatasetSummary:
    num_rows: int
    rows_without_teachers: int
    num_teacher_completions: int
    teacher_counts: dict[str, int]  # completions per teacher name ("unnamed" without a sources column)


def validate_oger_dataset(
    dataset: Dataset | IterableDataset,
    *,
    name: str = "train_dataset",
    prompt_column: str = "prompt",
    teacher_column: str = "teacher_completions",
    sources_column: str | None = "teacher_sources",
    rationale_column: str | None = None,
    require_teachers: bool = True,
) -> DatasetSummary | None:
    """Check every row of a map-style dataset (column names only for an iterable one, whose rows cannot be read in
    advance). Raises `DatasetContractError` at the first violation; returns counts for a map-style dataset.

    With `require_teachers=False`, a dataset without `teacher_column` is valid and counts as having no teachers."""
    columns = _column_names(dataset)
    if columns is not None and not require_teachers and teacher_column not in columns:
        teacher_column = None
    if columns is not None:
        _check_columns(columns, name, prompt_column, teacher_column, rationale_column)
    if isinstance(dataset, IterableDataset):
        return None
    checked = [prompt_column] + ([teacher_column] if teacher_column else [])
    if teacher_column and sources_column and sources_column in columns:
        checked.append(sources_column)
    else:
        sources_column = None
    if rationale_column:
        checked.append(rationale_column)
    rows_without_teachers = num_teachers = 0
    teacher_counts = Counter()
    for offset, batch in enumerate(dataset.select_columns(checked).iter(batch_size=_BATCH)):
        for i in range(len(batch[prompt_column])):
            where = _Where(name, offset * _BATCH + i + 1)  # counted from 1, as a data file's lines
            _check_prompt(batch[prompt_column][i], where.at(prompt_column))
            teachers = _check_teachers(batch[teacher_column][i], where.at(teacher_column)) if teacher_column else []
            if sources_column:
                _check_sources(batch[sources_column][i], len(teachers), where.at(sources_column), teacher_column)
                teacher_counts.update(batch[sources_column][i] or ())
            else:
                teacher_counts.update(["unnamed"] * len(teachers))
            if rationale_column:
                _check_rationale(batch[rationale_column][i], where.at(rationale_column))
            rows_without_teachers += not teachers
            num_teachers += len(teachers)
    return DatasetSummary(len(dataset), rows_without_teachers, num_teachers, dict(sorted(teacher_counts.items())))


@dataclass(frozen=True)
class _Where:
    dataset: str
    row: int
    column: str = ""

    def at(self, column: str) -> "_Where":
        return _Where(self.dataset, self.row, column)

    def error(self, expectation: str, value: Any) -> DatasetContractError:
        return DatasetContractError(
            f"{self.dataset}, row {self.row}, column '{self.column}': expected {expectation}, got {_describe(value)}."
        )


def _column_names(dataset) -> list[str] | None:
    if isinstance(dataset, Dataset):
        return dataset.column_names
    return list(dataset.features) if getattr(dataset, "features", None) is not None else None


def _check_columns(
    columns: list[str], name: str, prompt_column: str, teacher_column: str | None, rationale_column: str | None
) -> None:
    for column, purpose in (
        (prompt_column, "the prompts"),
        (teacher_column, "the teacher completions (a list of strings per row; use [] for prompts without teachers)"),
        (rationale_column, "the reference rationales used by RGPO guidance"),
    ):
        if column and column not in columns:
            without = (
                " To train without teachers (plain GRPO), set `num_offline_per_group=0` and `exploration_coef=0`."
                if column == teacher_column
                else ""
            )
            raise DatasetContractError(
                f"{name} has no column '{column}' for {purpose}. Columns present: {columns}. Rename the column or set "
                f"the matching OGERConfig option (e.g. `teacher_completions_column`).{without}"
            )
    vision = [c for c in _VISION_COLUMNS if c in columns]
    if vision:
        raise DatasetContractError(
            f"{name} has vision column(s) {vision}: OGER supports text-only prompts (its last-token entropy and teacher "
            "splicing are text-only). Remove the column(s) or train with GRPOTrainer."
        )


def _check_prompt(prompt: Any, where: _Where) -> None:
    if isinstance(prompt, str):
        if not prompt:
            raise where.error("a non-empty prompt string", prompt)
        return
    if not isinstance(prompt, list) or not prompt:
        raise where.error("a string or a non-empty list of chat messages", prompt)
    for message in prompt:
        if not (isinstance(message, dict) and isinstance(message.get("role"), str)):
            raise where.error("chat messages as {'role': str, 'content': str} dicts", message)
        if not isinstance(message.get("content"), str):
            raise where.error("text message contents (strings; image parts are not supported)", message["content"])


def _check_teachers(teachers: Any, where: _Where) -> list:
    if teachers is None:
        return []
    if not isinstance(teachers, list):
        raise where.error("a list of teacher completion strings (possibly empty)", teachers)
    for j, text in enumerate(teachers):
        if not isinstance(text, str) or not text.strip():
            raise where.error(f"non-empty strings (element {j} is not one)", text)
    return teachers


def _check_sources(sources: Any, num_teachers: int, where: _Where, teacher_column: str) -> None:
    if sources is None and num_teachers == 0:
        return
    if not isinstance(sources, list) or not all(isinstance(s, str) and s for s in sources):
        raise where.error(f"a list of teacher names aligned with '{teacher_column}'", sources)
    if len(sources) != num_teachers:
        raise where.error(
            f"{num_teachers} teacher name(s), one per entry of '{teacher_column}'",
            sources,
        )


def _check_rationale(rationale: Any, where: _Where) -> None:
    if rationale is not None and not isinstance(rationale, str):
        raise where.error("a rationale string or null", rationale)


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:80]}{'...' if len(text) > 80 else ''}"
