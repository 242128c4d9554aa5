"""Verifiable rewards: TRL's math rewards by registry name, any function by dotted import path, and a math-verify
check for grading teacher traces while preparing data."""

import importlib
import os
import sys
from collections.abc import Callable

from math_verify import parse, verify
from trl.rewards import accuracy_reward, get_soft_overlong_punishment, reasoning_accuracy_reward, think_format_reward

REWARD_FUNCS: dict[str, Callable] = {
    "accuracy_reward": accuracy_reward,
    "reasoning_accuracy_reward": reasoning_accuracy_reward,
    "think_format_reward": think_format_reward,
    "get_soft_overlong_punishment": get_soft_overlong_punishment(max_completion_len=1280, soft_punish_cache=256),
}


def load_reward_func(name: str) -> Callable:
    """A registered reward (`accuracy_reward`, ...) or a dotted import path (`my_lib.rewards.f`), as in `trl grpo`."""
    if name in REWARD_FUNCS:
        return REWARD_FUNCS[name]
    if "." in name:
        module_path, attribute = name.rsplit(".", 1)
        sys.path.insert(0, os.getcwd())
        return getattr(importlib.import_module(module_path), attribute)
    raise ValueError(f"Unknown reward function {name!r}: use one of {sorted(REWARD_FUNCS)} or a dotted import path.")


def math_verify_correct(completion: str, answer: str, timeout_seconds: int = 5) -> bool:
    """Whether math-verify finds `answer` (wrapped in `$...$`, as LUFFY does) in `completion`; False on timeout.
    The timeouts use SIGALRM, so call it from the main thread."""
    gold = parse(f"${answer}$", parsing_timeout=timeout_seconds)
    return bool(gold) and verify(
        gold, parse(completion, parsing_timeout=timeout_seconds), timeout_seconds=timeout_seconds
    )
