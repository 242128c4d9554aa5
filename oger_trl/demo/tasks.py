"""The demo's tasks, in the OGER dataset contract: problems split into training and held-out sets, several named
teacher styles per training problem.

`addition` (the default) is where a small real model visibly learns on a CPU in minutes: SmolLM2-135M-Instruct adds
single digits correctly in plain text most of the time, but almost never states the sum in the `\\boxed{}` form the
verifiable reward checks, so plain GRPO sees (almost) no reward, while offline teachers show the format. `gsm8k` is
the harder option: GSM8K test problems with four OpenAI models' solutions as teachers.
"""

import os
import random
import sys
import urllib.request
from dataclasses import dataclass

from datasets import Dataset

from ..data.gsm8k import gsm8k_teacher_dataset
from ..errors import UsageError

ADDITION_PROMPT = "What is {a} + {b}? Put the final answer in \\boxed{{}}."
# One named teacher per style: the divergence bonus needs teachers that differ from each other and from the policy.
ADDITION_TEACHERS = {
    "equation": "{a} + {b} = {c}. The answer is \\boxed{{{c}}}.",
    "verbal": "Adding {a} and {b} gives {c}, so the final answer is \\boxed{{{c}}}.",
    "counting": "Start at {a} and count up {b} more: {c}. Final answer: \\boxed{{{c}}}.",
}

GSM8K_URL = "https://raw.githubusercontent.com/openai/grade-school-math/master/grade_school_math/data/"
GSM8K_TEACHER_FILE = "example_model_solutions.jsonl"


@dataclass(frozen=True)
class DemoTask:
    name: str
    train: Dataset  # prompt, solution, teacher_completions, teacher_sources
    held_out: Dataset  # prompt, solution (never trained on)
    description: str


def addition_task(held_out: int = 40, split_seed: int = 0) -> DemoTask:
    """a + b for digits a, b in 0..9 (100 problems), shuffled with `split_seed`; the first `held_out` are held out."""
    pairs = [(a, b) for a in range(10) for b in range(10)]
    if not 0 < held_out < len(pairs):
        raise UsageError(f"--held-out must be between 1 and {len(pairs) - 1} for the addition task, got {held_out}.")
    random.Random(split_seed).shuffle(pairs)
    rows = [
        {
            "prompt": [{"role": "user", "content": ADDITION_PROMPT.format(a=a, b=b)}],
            "solution": str(a + b),
            "teacher_completions": [style.format(a=a, b=b, c=a + b) for style in ADDITION_TEACHERS.values()],
            "teacher_sources": list(ADDITION_TEACHERS),
        }
        for a, b in pairs
    ]
    description = (
        f"single-digit addition ('{ADDITION_PROMPT.format(a='a', b='b')}', a and b in 0..9): "
        f"{len(pairs) - held_out} training problems, {held_out} held out; teachers: {len(ADDITION_TEACHERS)} styles "
        f"({', '.join(ADDITION_TEACHERS)})"
    )
    return DemoTask("addition", Dataset.from_list(rows[held_out:]), Dataset.from_list(rows[:held_out]), description)


def gsm8k_task(data_dir: str | None, held_out: int = 40, split_seed: int = 0) -> DemoTask:
    """GSM8K problems with at least one correct teacher solution, shuffled with `split_seed`, split in two."""
    problems = gsm8k_teacher_dataset(gsm8k_teacher_file(data_dir))
    problems = problems.filter(lambda row: len(row["teacher_completions"]) > 0).shuffle(seed=split_seed)
    if not 0 < held_out < len(problems):
        raise UsageError(f"--held-out must be between 1 and {len(problems) - 1} for the gsm8k task, got {held_out}.")
    description = (
        f"GSM8K ({len(problems) - held_out} training problems, {held_out} held out) with the correct solutions of "
        f"four OpenAI models (`{GSM8K_TEACHER_FILE}`) as teachers"
    )
    train = problems.select(range(held_out, len(problems)))
    return DemoTask("gsm8k", train, problems.select(range(held_out)), description)


def gsm8k_teacher_file(data_dir: str | None) -> str:
    """The local GSM8K teacher file, or a copy fetched once from GSM8K's repository (MIT) with a clear message."""
    if data_dir and os.path.exists(os.path.join(data_dir, GSM8K_TEACHER_FILE)):
        return os.path.join(data_dir, GSM8K_TEACHER_FILE)
    cached = os.path.join(os.path.expanduser("~"), ".cache", "oger_trl", "gsm8k", GSM8K_TEACHER_FILE)
    if not os.path.exists(cached):
        print(f"GSM8K's {GSM8K_TEACHER_FILE} not found locally: fetching it from {GSM8K_URL} (MIT licence).")
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        try:
            urllib.request.urlretrieve(GSM8K_URL + GSM8K_TEACHER_FILE, cached + ".part")
        except OSError as err:
            sys.exit(
                f"Could not fetch {GSM8K_TEACHER_FILE} ({err}). Download it from {GSM8K_URL}{GSM8K_TEACHER_FILE} "
                "and pass its folder with --data-dir."
            )
        os.replace(cached + ".part", cached)
    return cached
