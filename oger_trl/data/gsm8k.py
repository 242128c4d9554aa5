"""GSM8K (MIT, github.com/openai/grade-school-math) in the OGER dataset contract.

`example_model_solutions.jsonl` holds, for each GSM8K test problem, solutions from four OpenAI models with an
`is_correct` flag: a small multi-teacher set. Their final `A: N` line becomes `\\boxed{N}`, the form math rewards parse,
and calculator annotations (`<<3*4=12>>`) are removed.
"""

import re

from datasets import Dataset

from .loading import load_table
from .prepare import Problem, Trace, assemble

GSM8K_TEACHERS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
INSTRUCTION = "Solve the problem step by step and put the final answer in \\boxed{}."
_FINAL_ANSWER = re.compile(r"(?:^|\n)\s*(?:A:|####)\s*(?P<answer>[^\n]+?)\s*$")
_CALCULATOR = re.compile(r"<<[^>]*>>")


def final_answer(solution: str) -> str | None:
    """The answer after the last `A:` or `####` line, without thousands separators; None when there is none."""
    match = _FINAL_ANSWER.search(solution.strip())
    return match.group("answer").replace(",", "") if match else None


def boxed_solution(solution: str) -> str | None:
    """A GSM8K-style solution rewritten to end in `The answer is \\boxed{N}.`; None when it has no final answer."""
    answer = final_answer(solution)
    if answer is None:
        return None
    body = _FINAL_ANSWER.sub("", _CALCULATOR.sub("", solution.strip())).rstrip()
    return f"{body}\nThe answer is \\boxed{{{answer}}}."


def gsm8k_prompt(question: str) -> list[dict]:
    return [{"role": "user", "content": f"{question.strip()}\n{INSTRUCTION}"}]


def gsm8k_problems(path: str) -> list[Problem]:
    """Problems of `example_model_solutions.jsonl`, each with its four model solutions as candidate teacher traces and
    the reference solution as rationale."""
    return [
        Problem(
            gsm8k_prompt(record["question"]),
            final_answer(record["ground_truth"]),
            [
                Trace(teacher, boxed_solution(record[teacher]["solution"]), record[teacher]["is_correct"])
                for teacher in GSM8K_TEACHERS
            ],
            rationale=boxed_solution(record["ground_truth"]),
        )
        for record in load_table(path)
    ]


def gsm8k_teacher_dataset(path: str, **filters) -> Dataset:
    """OGER rows from `example_model_solutions.jsonl`: the four models are the teachers, only their correct solutions
    are kept; `solution` is the gold answer. `filters` go to `oger_trl.data.prepare.assemble`."""
    dataset, _ = assemble(gsm8k_problems(path), **filters)
    return dataset
