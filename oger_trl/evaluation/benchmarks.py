"""The paper's benchmarks: where each lives on the Hub, how its rows become prompts and gold answers, how it is
graded. Every benchmark also accepts a local file with the same columns (`name=path.jsonl` on the command line)."""

import random
from collections.abc import Callable
from dataclasses import dataclass

from ..data.gsm8k import final_answer
from ..data.loading import load_table
from ..errors import UsageError

MATH_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
CHOICE_INSTRUCTION = "Answer with the letter of the correct option, e.g. \\boxed{A}."


@dataclass(frozen=True)
class EvalItem:
    id: str
    prompt: str  # the user message
    gold: str


@dataclass(frozen=True)
class Benchmark:
    name: str
    hub_id: str
    split: str
    kind: str  # "math" (math-verify) or "choice" (option letter)
    domain: str  # "in" (math, the training domain) or "out"
    to_item: Callable[[dict, int], EvalItem]
    config: str | None = None


def _field(row: dict, *names: str):
    for name in names:
        if row.get(name) not in (None, ""):
            return row[name]
    raise KeyError(f"none of the columns {list(names)} in row with columns {sorted(row)}")


def _math_item(question_fields: tuple[str, ...], answer_fields: tuple[str, ...], answer=lambda a: a):
    def to_item(row: dict, index: int) -> EvalItem:
        gold = _field(row, *answer_fields)
        gold = gold[0] if isinstance(gold, list) else gold
        return EvalItem(
            str(index), f"{str(_field(row, *question_fields)).strip()}\n{MATH_INSTRUCTION}", answer(str(gold))
        )

    return to_item


def _choice_prompt(question: str, options: list[str]) -> str:
    lines = [question.strip(), ""]
    lines += [f"{letter}. {option}" for letter, option in zip("ABCDEFGHIJ", options, strict=False)]
    return "\n".join([*lines, "", CHOICE_INSTRUCTION])


def _arc_item(row: dict, index: int) -> EvalItem:
    labels, texts = row["choices"]["label"], row["choices"]["text"]
    gold = "ABCDEFGHIJ"[labels.index(row["answerKey"])]  # some ARC rows label options 1-4
    return EvalItem(str(index), _choice_prompt(row["question"], texts), gold)


def _gpqa_item(row: dict, index: int) -> EvalItem:
    options = [row["Correct Answer"], row["Incorrect Answer 1"], row["Incorrect Answer 2"], row["Incorrect Answer 3"]]
    order = list(range(4))
    random.Random(index).shuffle(order)  # fixed per item, so every run sees the same option order
    gold = "ABCD"[order.index(0)]
    return EvalItem(str(index), _choice_prompt(row["Question"], [options[i].strip() for i in order]), gold)


def _mmlu_pro_item(row: dict, index: int) -> EvalItem:
    return EvalItem(str(index), _choice_prompt(row["question"], row["options"]), row["answer"].strip())


BENCHMARKS = {
    b.name: b
    for b in (
        Benchmark("math500", "HuggingFaceH4/MATH-500", "test", "math", "in", _math_item(("problem",), ("answer",))),
        Benchmark(
            "gsm8k", "openai/gsm8k", "test", "math", "in", _math_item(("question",), ("answer",), final_answer), "main"
        ),
        Benchmark("aime24", "HuggingFaceH4/aime_2024", "train", "math", "in", _math_item(("problem",), ("answer",))),
        Benchmark("aime25", "math-ai/aime25", "test", "math", "in", _math_item(("problem",), ("answer",))),
        Benchmark("amc23", "math-ai/amc23", "test", "math", "in", _math_item(("question", "problem"), ("answer",))),
        Benchmark(
            "minerva", "math-ai/minervamath", "test", "math", "in", _math_item(("question", "problem"), ("answer",))
        ),
        Benchmark(
            "olympiadbench",
            "math-ai/olympiadbench",
            "test",
            "math",
            "in",
            _math_item(("question", "problem"), ("final_answer", "answer")),
        ),
        Benchmark("arc_c", "allenai/ai2_arc", "test", "choice", "out", _arc_item, "ARC-Challenge"),
        Benchmark("gpqa_diamond", "Idavidrein/gpqa", "train", "choice", "out", _gpqa_item, "gpqa_diamond"),
        Benchmark("mmlu_pro", "TIGER-Lab/MMLU-Pro", "test", "choice", "out", _mmlu_pro_item),
    )
}


def parse_benchmark_spec(spec: str, option: str = "--benchmarks") -> tuple[Benchmark, str | None]:
    """`name` (from the Hub) or `name=path` (a local file with the benchmark's columns); `option` names where the
    spec came from in the refusal."""
    name, _, path = spec.partition("=")
    if name not in BENCHMARKS:
        raise UsageError(f"Unknown benchmark {name!r} in {option}; known: {sorted(BENCHMARKS)}.")
    return BENCHMARKS[name], path or None


def load_items(spec: str, limit: int | None = None) -> tuple[Benchmark, list[EvalItem]]:
    """The benchmark's items (the first `limit`); a local file's rows must have the benchmark's columns."""
    benchmark, path = parse_benchmark_spec(spec)
    if path:
        rows = load_table(path)
    else:
        from datasets import load_dataset

        rows = load_dataset(benchmark.hub_id, benchmark.config, split=benchmark.split)
    if limit is not None:
        rows = rows.select(range(min(limit, len(rows))))
    items = []
    for index, row in enumerate(rows):
        try:
            items.append(benchmark.to_item(row, index))
        except (KeyError, ValueError, IndexError, TypeError, AttributeError) as err:
            source = path or f"{benchmark.hub_id} ({benchmark.split})"
            raise UsageError(
                f"Benchmark {benchmark.name}, {source}, row {index + 1}: cannot read the row as a {benchmark.name} item "
                f"({err}). Columns found: {sorted(row)}."
            ) from err
    return benchmark, items
