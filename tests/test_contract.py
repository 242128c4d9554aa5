"""The dataset contract: every malformed dataset fails before training with the dataset, row, column and expectation."""

import pytest
from datasets import Dataset
from helpers import arithmetic_dataset, make_trainer

from oger_trl import DatasetContractError, validate_oger_dataset


def dataset_with(row: int, conversational: bool = True, **override) -> Dataset:
    """Three valid rows, with `row` (from 0) overridden. Messages count rows from 1, as a data file's lines."""
    data = arithmetic_dataset(3, conversational=conversational).to_list()
    data[row].update(override)
    return Dataset.from_list(data)


@pytest.mark.parametrize(
    ("dataset", "message"),
    [
        (
            Dataset.from_dict({"prompt": ["q0", "q1"], "teacher_completions": ["one answer", "another"]}),
            "row 1, column 'teacher_completions': expected a list of teacher completion strings (possibly empty), got str",
        ),
        (
            dataset_with(2, teacher_completions=["ok", ""]),
            "row 3, column 'teacher_completions': expected non-empty strings (element 1 is not one)",
        ),
        (dataset_with(0, teacher_sources=["alice"]), "row 1, column 'teacher_sources': expected 3 teacher name(s)"),
        (dataset_with(1, conversational=False, prompt=""), "row 2, column 'prompt': expected a non-empty prompt"),
        (dataset_with(2, prompt=[{"content": "hi"}]), "row 3, column 'prompt': expected chat messages"),
    ],
)
def test_malformed_rows_are_named(dataset, message):
    with pytest.raises(DatasetContractError) as err:
        validate_oger_dataset(dataset, name="train_dataset")
    assert message in str(err.value)
    assert str(err.value).startswith("train_dataset, row")


def test_numbers_instead_of_teacher_strings():
    dataset = Dataset.from_dict({"prompt": ["q0", "q1"], "teacher_completions": [[], [1, 2]]})
    with pytest.raises(DatasetContractError, match=r"row 2, column 'teacher_completions': expected non-empty strings"):
        validate_oger_dataset(dataset)


def test_missing_columns_are_named_with_what_is_present():
    dataset = Dataset.from_dict({"prompt": ["q"], "teachers": [["t"]]})
    with pytest.raises(
        DatasetContractError, match=r"no column 'teacher_completions'.*Columns present: \['prompt', 'teachers'\]"
    ):
        validate_oger_dataset(dataset)
    assert validate_oger_dataset(dataset, teacher_column="teachers").num_teacher_completions == 1


def test_vision_columns_are_rejected():
    dataset = Dataset.from_dict({"prompt": ["q"], "teacher_completions": [["t"]], "image": ["img.png"]})
    with pytest.raises(DatasetContractError, match="vision column"):
        validate_oger_dataset(dataset)


def test_prompts_without_teachers_are_allowed_and_counted():
    dataset = Dataset.from_dict(
        {
            "prompt": ["a", "b", "c"],
            "teacher_completions": [["t1", "t2"], [], None],
            "teacher_sources": [["x", "y"], [], None],
        }
    )
    summary = validate_oger_dataset(dataset)
    assert (summary.num_rows, summary.rows_without_teachers, summary.num_teacher_completions) == (3, 2, 2)


def test_rationale_column_is_checked_when_asked():
    dataset = Dataset.from_dict({"prompt": ["a"], "teacher_completions": [["t"]], "rationale": [3]})
    with pytest.raises(DatasetContractError, match="row 1, column 'rationale': expected a rationale string"):
        validate_oger_dataset(dataset, rationale_column="rationale")


def test_iterable_datasets_are_checked_by_columns():
    typed = arithmetic_dataset(2).to_iterable_dataset()
    assert validate_oger_dataset(typed) is None
    wrong = Dataset.from_dict({"prompt": ["q"], "x": [1]}).to_iterable_dataset()
    with pytest.raises(DatasetContractError, match="no column 'teacher_completions'"):
        validate_oger_dataset(wrong)


def test_trainer_validates_before_building_anything(tmp_path, tokenizer, encoder):
    bad = Dataset.from_dict({"prompt": ["q"], "solution": ["1"], "teacher_completions": [["ok", None]]})
    with pytest.raises(DatasetContractError, match="train_dataset, row 1, column 'teacher_completions'"):
        make_trainer(tmp_path, tokenizer, encoder, dataset=bad)
