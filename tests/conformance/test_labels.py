"""The conformance table's labels: OGER's documented rejections are recognised from their messages."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from labels import DEFECT, first_line, label_failure


@pytest.mark.parametrize(
    ("message", "label"),
    [
        (
            "ValueError: OGERTrainer does not support `tools`: tool calls interleave non-policy tokens with the "
            "completions OGER compares and replaces. Remove `tools` or use GRPOTrainer.",
            "rejection: tools",
        ),
        ("ValueError: OGERTrainer does not support `environment_factory`: ...", "rejection: environment_factory"),
        ("ValueError: OGERTrainer does not support `rollout_func`: ...", "rejection: rollout_func"),
        ("ValueError: OGERTrainer supports text-only models: its last-token entropy pass ...", "rejection: vision"),
        (
            "DatasetContractError: train_dataset has vision column(s) ['image']: OGER supports text-only prompts",
            "rejection: vision",
        ),
        (
            "UsageError: OGER needs `multi_objective_aggregation='sum_then_normalize'`, got 'normalize_then_sum'",
            "rejection: normalize_then_sum",
        ),
        ("UsageError: OGER needs `remove_unused_columns=False`: with True, ...", "rejection: remove_unused_columns"),
        (
            "UsageError: `num_offline_per_group` must be in [0, num_generations) = [0, 1), got 1",
            "rejection: num_offline_per_group",
        ),
        # pytest.raises(match=...) mismatch: the rejection sits in a later line of the message
        (
            "AssertionError: Regex pattern did not match.\n  Expected regex: 'No reward source'\n  Actual message: "
            "'OGERTrainer does not support `environment_factory`: environments ...'",
            "rejection: environment_factory",
        ),
        ("DatasetContractError: train_dataset has no column 'teacher_completions' for the teacher ...", DEFECT),
        ("AssertionError: assert 3 == 2", DEFECT),
        ("ValueError: Unknown loss type 'xyz'", DEFECT),
        ("", DEFECT),
        (None, DEFECT),
    ],
    ids=[
        "tools",
        "environment_factory",
        "rollout_func",
        "vision-model",
        "vision-column",
        "normalize_then_sum",
        "remove_unused_columns",
        "num_offline_per_group",
        "raises-match-mismatch",
        "no-teacher-column",
        "assertion",
        "other-error",
        "empty",
        "none",
    ],
)
def test_label_failure(message, label):
    assert label_failure(message) == label


def test_tests_whose_premise_the_teachers_change_are_labelled_only_for_mode_c():
    test = "TestGRPOTrainer::test_train_with_mask_truncated_completions_all_masked"
    assert label_failure("AssertionError: assert 0.03 == 0.0", test).startswith("C premise: it needs every completion")
    assert label_failure("AssertionError: assert 0.03 == 0.0") == DEFECT  # mode B (no teachers): a defect
    assert label_failure("AssertionError", "TestGRPOTrainer::test_train_with_eval") == DEFECT
    rejection = "UsageError: OGER needs `remove_unused_columns=False`: ..."
    assert label_failure(rejection, test) == "rejection: remove_unused_columns"  # a rejection message comes first


def test_first_line():
    assert first_line("\n  ValueError: boom  \nTraceback ...") == "ValueError: boom"
    assert first_line(None) == ""
    assert first_line("x" * 300, limit=10) == "xxxxxxx..."
