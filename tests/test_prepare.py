"""`oger-trl prepare`: OpenR1-style teacher datasets merged per problem, and GSM8K's model solutions, filtered to the
correct, non-duplicate traces that fit, with a report of what was kept and dropped and why."""

import json
import re
from pathlib import Path

import pytest
from datasets import Dataset
from helpers import needs_shared, shared_path

from oger_trl.cli import main as cli
from oger_trl.data.loading import load_table
from oger_trl.data.openr1 import OPENR1_INSTRUCTION

GSM8K_SOLUTIONS = shared_path("data", "gsm8k", "example_model_solutions.jsonl")
LONG = "We add the numbers one by one. " * 40 + "The answer is \\boxed{4}."


def user(problem: str) -> list[dict]:
    return [{"role": "user", "content": f"{problem}\n\n{OPENR1_INSTRUCTION}"}]


@pytest.fixture
def openr1_sources(tmp_path):
    r1 = [
        {
            "problem": "What is 2 + 2?",
            "answer": "4",
            "generations": ["<think>\nadd them\n</think>\nThe answer is \\boxed{4}.", "It is \\boxed{5}.", LONG],
            "correctness_math_verify": [True, False, True],
            "solution": "Two plus two is four.",  # a reference solution: it becomes the RGPO rationale
        },
        {
            "problem": "Compute  3*3.",
            "answer": "9",
            "generations": ["\\boxed{9}", "\\boxed{9}"],
            "correctness_math_verify": [True, True],
            "solution": "",
        },
        {
            "problem": "A hard one.",
            "answer": "42",
            "generations": ["\\boxed{41}"],
            "correctness_math_verify": [False],
            "solution": "Guess.",
        },
    ]
    qwen = [  # no correctness nor solution column: graded with math-verify while preparing, no rationale
        {"problem": "what is 2 +  2?", "answer": "4", "generations": ["2 + 2 = 4, so \\boxed{4}."]},
        {"problem": "A new one.", "answer": "7", "generations": ["\\boxed{8}", "So \\boxed{7}"]},
    ]
    paths = {"r1": str(tmp_path / "r1.parquet"), "qwen": str(tmp_path / "qwen.jsonl")}  # both input formats
    Dataset.from_list(r1).to_parquet(paths["r1"])
    Dataset.from_list(qwen).to_json(paths["qwen"])
    return paths


def test_openr1_sources_are_merged_filtered_and_reported(tmp_path, tokenizer, openr1_sources):
    tokenizer.save_pretrained(tmp_path / "tok")
    out, report_path = tmp_path / "oger.jsonl", tmp_path / "report.json"
    cli(
        [
            "prepare", "openr1", "--source", f"r1={openr1_sources['r1']}", "--source", f"qwen={openr1_sources['qwen']}",
            "--tokenizer", str(tmp_path / "tok"), "--max-tokens", "100", "--strip-think", "yes",
            "--output", str(out), "--report", str(report_path),
        ]
    )  # fmt: skip
    rows = load_table(str(out)).to_list()
    assert rows == [
        {
            "prompt": user("What is 2 + 2?"),
            "solution": "4",
            "teacher_completions": ["add them\n</think>\nThe answer is \\boxed{4}.", "2 + 2 = 4, so \\boxed{4}."],
            "teacher_sources": ["r1", "qwen"],
            "rationale": "Two plus two is four.",
        },
        {
            "prompt": user("Compute  3*3."),
            "solution": "9",
            "teacher_completions": ["\\boxed{9}"],
            "teacher_sources": ["r1"],
            "rationale": None,
        },
        {
            "prompt": user("A hard one."),
            "solution": "42",
            "teacher_completions": [],
            "teacher_sources": [],
            "rationale": "Guess.",
        },
        {
            "prompt": user("A new one."),
            "solution": "7",
            "teacher_completions": ["So \\boxed{7}"],
            "teacher_sources": ["qwen"],
            "rationale": None,
        },
    ]
    assert len(tokenizer(LONG, add_special_tokens=False)["input_ids"]) >= 100  # the long trace really is too long
    assert json.loads(report_path.read_text()) == {
        "problems": 4,
        "problems_with_teachers": 3,
        "problems_without_teachers": 1,
        "answer_conflicts": 0,
        "kept_traces": {"qwen": 2, "r1": 2},
        "dropped_traces": {"duplicate": {"r1": 1}, "incorrect": {"qwen": 1, "r1": 2}, "too_long": {"r1": 1}},
    }


def test_sources_in_the_wrong_format_are_named(tmp_path):
    path = tmp_path / "bad.jsonl"
    Dataset.from_list([{"question": "q", "answer": "1"}]).to_json(str(path))
    with pytest.raises(SystemExit) as exit_info:  # one line, no traceback
        cli(["prepare", "openr1", "--source", f"x={path}", "--output", str(tmp_path / "o.jsonl")])
    assert str(exit_info.value.code).startswith(
        "oger-trl prepare: error: Teacher source 'x' lacks column(s) ['problem', 'generations']"
    )


@needs_shared(GSM8K_SOLUTIONS)
def test_gsm8k_model_solutions_become_four_teacher_rows(tmp_path):
    out, report_path = tmp_path / "gsm8k.parquet", tmp_path / "report.json"
    cli(["prepare", "gsm8k", "--input", GSM8K_SOLUTIONS, "--output", str(out), "--report", str(report_path)])
    report = json.loads(report_path.read_text())
    records = [json.loads(line) for line in Path(GSM8K_SOLUTIONS).read_text().splitlines()]
    teachers = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
    # independent count: correct solutions that end with an `A: N` line
    usable = {
        t: [r for r in records if r[t]["is_correct"] and re.search(r"\nA:\s*\S", r[t]["solution"])] for t in teachers
    }
    for t in teachers:
        assert report["kept_traces"][t] + report["dropped_traces"].get("duplicate", {}).get(t, 0) == len(usable[t])
    assert report["problems"] == len(records) == 1319
    assert report["problems_with_teachers"] == sum(any(r in usable[t] for t in teachers) for r in records) == 887
    rows = load_table(str(out))
    assert len(rows) == 1319
    first = rows[1]  # "A robe takes 2 bolts of blue fiber and half that much white fiber..."
    assert first["solution"] == "3"
    assert all(t.endswith("The answer is \\boxed{3}.") and "<<" not in t for t in first["teacher_completions"])
    assert set(first["teacher_sources"]) <= set(teachers)
    assert first["rationale"].endswith("The answer is \\boxed{3}.")  # the reference solution, for RGPO
