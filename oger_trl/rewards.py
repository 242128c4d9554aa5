"""Verifiable rewards: TRL's math rewards by registry name, any function by dotted import path."""

import importlib
import os
import sys
from collections.abc import Callable

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
