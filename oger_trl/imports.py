"""Functions a recipe names by dotted path (`package.module.function`): reward functions and exploration bonuses."""

import importlib
import os
import sys
from collections.abc import Callable

from .errors import UsageError


def import_callable(path: str, option: str) -> Callable:
    """The function at `path`, with the working directory importable (as `trl grpo` does for reward modules), or a
    one-line refusal naming the recipe option, the module and the reason."""
    module_name, _, attribute = path.rpartition(".")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise UsageError(
            f"`{option}={path!r}`: cannot import {attribute!r} from {module_name!r} ({error})."
        ) from error
    if not callable(function):
        raise UsageError(f"`{option}={path!r}` names a {type(function).__name__}, not a function.")
    return function
