"""Label a conformance failure: a documented OGERTrainer rejection, recognised from its message, a test whose premise
mode C changes, or a defect.

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


# Tests whose premise mode C's teachers change, by test function (any parametrisation): they assert what holds only
# without OGER acting on the data, so they fail in C by design. Each reason says what OGER does that the test excludes.
PREMISES_CHANGED_BY_TEACHERS: dict[str, str] = {
    "test_prepare_input_called_with_correct_data": "the rows it expects hold only `prompt`; C adds the teacher columns",
    "test_train_with_mask_truncated_completions_all_masked": "it needs every completion truncated (no signal); OGER "
    "splices a finished teacher completion into each group, which trains",
}


def label_failure(message: str | None, test_with_teachers: str | None = None) -> str:
    """`"rejection: <what>"` when `message` (a failure's message or traceback text) carries one of OGER's documented
    rejection messages; `"C premise: <why>"` when `test_with_teachers` (the id of a test that failed in mode C) is one
    whose premise the teachers change; else `"defect"`."""
    text = message or ""
    for label, pattern in REJECTIONS:
        if pattern.search(text):
            return f"rejection: {label}"
    function = (test_with_teachers or "").split("::")[-1].split("[")[0]
    if function in PREMISES_CHANGED_BY_TEACHERS:
        return f"C premise: {PREMISES_CHANGED_BY_TEACHERS[function]}"
    return DEFECT


def first_line(message: str | None, limit: int = 200) -> str:
    """The first non-empty line of a failure message, shortened to `limit` characters, for a table cell."""
    for line in (message or "").splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 3] + "..."
    return ""
