"""Verifiable rewards: TRL's math rewards by registry name, any function by dotted import path."""

import inspect
import json
import logging
from collections.abc import Callable

import torch
from datasets import Dataset
from trl.rewards import accuracy_reward, get_soft_overlong_punishment, reasoning_accuracy_reward, think_format_reward

from .errors import UsageError
from .generation_rows import completion_text
from .imports import import_callable
from .math_answers import grade_math, math_gold

logger = logging.getLogger(__name__)


def math_answer_reward(completions: list, solution: list[str], **kwargs) -> list[float | None]:
    """1.0 when a completion's answer (a `\\boxed{}` one first) is math-verify-equivalent to its `solution`, else 0.0;
    None (unscorable) when the gold answer does not parse. The grader of `oger-trl prepare` and `oger-trl evaluate`
    (`oger_trl.math_answers`), so a teacher completion that `prepare` keeps scores 1.0 in training."""
    return [
        float(grade_math(completion_text(c), gold).correct) if math_gold(gold) else None
        for c, gold in zip(completions, solution, strict=True)
    ]


REWARD_FUNCS: dict[str, Callable] = {
    "accuracy_reward": accuracy_reward,
    "math_answer_reward": math_answer_reward,
    "reasoning_accuracy_reward": reasoning_accuracy_reward,
    "think_format_reward": think_format_reward,
    "get_soft_overlong_punishment": get_soft_overlong_punishment(max_completion_len=1280, soft_punish_cache=256),
}


def load_reward_func(name: str) -> Callable:
    """A registered reward (`accuracy_reward`, ...) or a dotted import path (`my_lib.rewards.f`), as in `trl grpo`."""
    if name in REWARD_FUNCS:
        return REWARD_FUNCS[name]
    if "." in name:
        return import_callable(name, "reward_funcs")
    raise UsageError(f"Unknown reward function {name!r}: use one of {sorted(REWARD_FUNCS)} or a dotted import path.")


# What GRPOTrainer passes to every reward function besides the dataset's columns.
TRAINER_SUPPLIED = {
    "prompts",
    "completions",
    "completion_ids",
    "trainer_state",
    "log_extra",
    "log_metric",
    "environments",
}


def unscored_reward_funcs(rewards: torch.Tensor, names: list[str]) -> list[str]:
    """The reward functions whose column is NaN (None) for every completion of a gathered `(rows, functions)` batch:
    TRL drops them from the sum, and when all are, the batch carries no learning signal."""
    return [name for j, name in enumerate(names) if torch.isnan(rewards[:, j]).all()]


def required_columns(reward_func: Callable) -> list[str]:
    """Dataset columns a reward function cannot run without: its parameters without a default that the trainer does
    not supply (e.g. `solution` for `accuracy_reward`). Reward models and unreadable signatures require none."""
    try:
        parameters = inspect.signature(reward_func).parameters.values()
    except (TypeError, ValueError):
        return []
    return [
        p.name
        for p in parameters
        if p.default is inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name not in TRAINER_SUPPLIED
    ]


def require_reward_columns(reward_funcs, dataset, name: str) -> None:
    """Refuse, before any model is loaded, a dataset that lacks a column a reward function needs, or holds an empty
    value in it (that row could never be scored); warn when one prompt comes with different values of such a column
    (its completions are scored against one of them, so right answers count as wrong)."""
    columns = getattr(dataset, "column_names", None)
    if columns is None or isinstance(reward_funcs, str):
        return
    needed = []
    for func in reward_funcs if isinstance(reward_funcs, list) else [reward_funcs]:
        if isinstance(func, str) or not callable(func) or isinstance(func, torch.nn.Module):
            continue
        missing = [column for column in required_columns(func) if column not in columns]
        if missing:
            raise UsageError(
                f"{name} has no column {missing[0]!r}, which the reward function "
                f"{getattr(func, '__name__', type(func).__name__)} needs (its parameter `{missing[0]}`). Columns: "
                f"{sorted(columns)}. Add the column or rename it."
            )
        needed += [column for column in required_columns(func) if column not in needed]
    if needed and isinstance(dataset, Dataset) and "prompt" in columns:
        _check_reward_values(dataset, needed, name)


def _check_reward_values(dataset: Dataset, needed: list[str], name: str) -> None:
    seen: dict[str, tuple[int, tuple]] = {}
    for row_number, row in enumerate(dataset.select_columns(["prompt", *needed]), start=1):
        for column in needed:
            if row[column] is None or (isinstance(row[column], str) and not row[column].strip()):
                raise UsageError(
                    f"{name}, row {row_number}, column {column!r} is empty: a reward function needs it to score the "
                    "row's completions. Fill it or drop the row."
                )
        key, values = json.dumps(row["prompt"], sort_keys=True), tuple(row[c] for c in needed)
        first = seen.setdefault(key, (row_number, values))
        if first[1] != values:
            logger.warning(
                f"{name}, row {row_number} repeats the prompt of row {first[0]} with another {needed} "
                f"({values!r} vs {first[1]!r}): the same completion is scored right in one and wrong in the other."
            )
