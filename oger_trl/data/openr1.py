"""OpenR1-Math-220k-style teacher traces (`problem`, `answer`, `generations`, `correctness_math_verify`) in the OGER
contract: several datasets, one per teacher, merged on the normalised problem text."""

from datasets import Dataset

from ..errors import UsageError
from ..math_answers import grade_math
from .prepare import PrepareReport, Problem, Trace, normalize_problem

OPENR1_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
REQUIRED_COLUMNS = ("problem", "answer", "generations")


def chat_prompt(problem: str, instruction: str | None, system_prompt: str | None) -> list[dict]:
    content = f"{problem.strip()}\n\n{instruction}" if instruction else problem.strip()
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return [*system, {"role": "user", "content": content}]


def openr1_problems(
    sources: dict[str, Dataset],
    report: PrepareReport,
    instruction: str | None = OPENR1_INSTRUCTION,
    system_prompt: str | None = None,
) -> list[Problem]:
    """Merge teacher datasets (`{teacher name: dataset}`) into problems, in order of first appearance. Traces keep
    their `correctness_math_verify` flag; sources without that column are graded with math-verify here."""
    merged: dict[str, Problem] = {}
    for teacher, dataset in sources.items():
        missing = [c for c in REQUIRED_COLUMNS if c not in dataset.column_names]
        if missing:
            raise UsageError(
                f"Teacher source '{teacher}' lacks column(s) {missing} (OpenR1-Math-220k format: "
                f"{list(REQUIRED_COLUMNS)} and optionally 'correctness_math_verify'); it has {dataset.column_names}."
            )
        for index, row in enumerate(dataset):
            answer = str(row["answer"]).strip()
            key = normalize_problem(row["problem"])
            if key not in merged:  # the source's reference `solution`, when it has one, becomes the RGPO rationale
                prompt = chat_prompt(row["problem"], instruction, system_prompt)
                merged[key] = Problem(prompt, answer, rationale=row.get("solution") or None)
            elif merged[key].solution != answer:
                report.answer_conflicts += 1  # the first source's answer stands
            generations = row["generations"] or []
            flags = row.get("correctness_math_verify")
            if flags is None:
                flags = [grade_math(text, answer).correct for text in generations]  # the evaluation's rules
            if len(flags) != len(generations):
                raise UsageError(
                    f"Teacher source '{teacher}', row {index + 1}: {len(generations)} generations but {len(flags)} "
                    "correctness_math_verify flags; they must be aligned."
                )
            merged[key].traces += [Trace(teacher, text, bool(ok)) for text, ok in zip(generations, flags, strict=True)]
    return list(merged.values())
