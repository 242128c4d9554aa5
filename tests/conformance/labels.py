"""Label a conformance failure: a documented OGERTrainer rejection, recognised from its message, or a defect.

The patterns are the fixed parts of the messages OGER raises (oger_trl/trainer.py, oger_trl/config.py,
oger_trl/data/contract.py); the rejections are the ones the README documents ("Rejected with a message that says
what to change").
"""

import re

DEFECT = "defect"

# (label, pattern) in order of precedence; the label names what OGER refuses.
REJECTIONS: tuple[tuple[str, re.Pattern], ...] = (
    ("tools", re.compile(r"OGERTrainer does not support `tools`")),
    ("environment_factory", re.compile(r"OGERTrainer does not support `environment_factory`")),
    ("rollout_func", re.compile(r"OGERTrainer does not support `rollout_func`")),
    (
        "vision",
        re.compile(
            r"OGERTrainer supports text-only models"
            r"|has vision column\(s\)"
            r"|OGER supports text-only prompts"
            r"|image parts are not supported"
        ),
    ),
    ("normalize_then_sum", re.compile(r"OGER needs `multi_objective_aggregation='sum_then_normalize'`")),
    ("remove_unused_columns", re.compile(r"OGER needs `remove_unused_columns=False`")),
    ("num_offline_per_group", re.compile(r"`num_offline_per_group` must be in \[0, num_generations\)")),
)


def label_failure(message: str | None) -> str:
    """`"rejection: <what>"` when `message` (a failure's message or traceback text) carries one of OGER's documented
    rejection messages, else `"defect"`."""
    text = message or ""
    for label, pattern in REJECTIONS:
        if pattern.search(text):
            return f"rejection: {label}"
    return DEFECT


def first_line(message: str | None, limit: int = 200) -> str:
    """The first non-empty line of a failure message, shortened to `limit` characters, for a table cell."""
    for line in (message or "").splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 3] + "..."
    return ""
