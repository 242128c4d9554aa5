"""Grading of model answers: GSM8K golds, equivalent MATH-style forms, multiple choice, the </think> gate, and bounded
time on pathological outputs."""

import json
import time

import pytest
from helpers import needs_shared, shared_path

from oger_trl.data.gsm8k import final_answer
from oger_trl.math_answers import grade_choice, grade_math

GSM8K_TEST = shared_path("data", "gsm8k", "test.jsonl")


@needs_shared(GSM8K_TEST)
def test_gsm8k_golds_parse_and_grade():
    with open(GSM8K_TEST) as f:
        items = [json.loads(line) for line in f]
    with_commas = [item for item in items if "," in item["answer"].rsplit("####", 1)[1]]
    assert with_commas  # e.g. "#### 2,125": the thousands separator must not split the number
    for item in items[:40] + with_commas[:5]:
        gold = final_answer(item["answer"])
        assert gold == item["answer"].rsplit("####", 1)[1].strip().replace(",", "")
        value = float(gold)
        assert grade_math(f"Step by step... so the answer is \\boxed{{{gold}}}.", gold).correct, gold
        assert not grade_math(f"The answer is \\boxed{{{value + 1:g}}}.", gold).correct, gold


@pytest.mark.parametrize(
    ("gold", "completion"),
    [
        ("\\frac{14}{3}", "So x = \\boxed{\\dfrac{14}{3}}."),
        ("\\frac{1}{2}", "\\boxed{0.5}"),
        ("90^\\circ", "The angle is \\boxed{90^\\circ}"),
        ("90^\\circ", "The angle is \\boxed{90}"),
        ("142.0", "\\boxed{142}"),
        ("[-2,7]", "x \\in \\boxed{[-2, 7]}"),
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "\\boxed{(3, \\frac{\\pi}{2})}"),
        ("7", "First I got 5, then fixed it: the answer is \\boxed{7}."),  # the boxed answer wins
        ("10\\%", "\\boxed{10}"),
    ],
)
def test_equivalent_math_answers_are_accepted(gold, completion):
    assert grade_math(completion, gold).correct


@pytest.mark.parametrize(
    ("gold", "completion"),
    [
        ("72", "\\boxed{73}"),
        ("\\frac{14}{3}", "\\boxed{4.6667}"),
        ("[-2,7]", "\\boxed{(-2, 7)}"),
        ("5", "No answer here."),
    ],
)
def test_wrong_math_answers_are_rejected(gold, completion):
    assert not grade_math(completion, gold).correct


@pytest.mark.parametrize(
    "completion", ["\\boxed{C}", "\\boxed{(C)}", "\\boxed{\\text{C}}", "ANSWER: C", "The answer is C."]
)
def test_choice_letters_are_extracted(completion):
    grade = grade_choice(completion, "C")
    assert grade.correct and grade.extracted == "C"


def test_wrong_choice_is_rejected():
    assert not grade_choice("\\boxed{B}", "C").correct
    assert grade_choice("\\boxed{B}", "C").extracted == "B"


def test_think_gate_counts_only_the_text_after_the_reasoning():
    closed = "<think>maybe 4?</think>\nThe answer is \\boxed{5}."
    unclosed = "<think>I think it is \\boxed{5}"
    inside_only = "<think>\\boxed{5}</think> I am done."
    assert grade_math(closed, "5", think_gate=True).correct
    assert not grade_math(unclosed, "5", think_gate=True).correct
    assert grade_math(unclosed, "5", think_gate=False).correct
    assert not grade_math(inside_only, "5", think_gate=True).correct
    assert not grade_choice("<think>\\boxed{A}", "A", think_gate=True).correct


@pytest.mark.parametrize(
    "completion",
    [
        "\\frac{" * 20000 + "1" + "}" * 20000,  # deeply nested LaTeX
        "x" * 100_000 + "\\boxed{" + "+".join(["1"] * 5000) + "}",  # huge text, huge expression
        "\\boxed{" + "\\sqrt{" * 3000 + "2" + "}" * 3000 + "}",
    ],
)
def test_pathological_answers_are_graded_in_bounded_time(completion):
    start = time.monotonic()
    grade = grade_math(completion, "3", timeout=2)
    assert not grade.correct
    assert time.monotonic() - start < 15
