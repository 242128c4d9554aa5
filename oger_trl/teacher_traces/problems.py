"""The problems a teacher is asked: read from a file or a Hub dataset, checked, and selected (`--limit`, `--shard`)
before any model loads."""

from dataclasses import dataclass

from ..data.gsm8k import final_answer
from ..data.loading import load_table
from ..errors import UsageError


@dataclass(frozen=True)
class ProblemRow:
    index: int  # position in the source: the key of resume and of the final file's order
    problem: str
    answer: str
    solution: str | None  # a reference solution, kept for RGPO's hint (`prepare` reads the column)


@dataclass(frozen=True)
class Columns:
    problem: str = "problem"
    answer: str = "answer"
    solution: str = "solution"  # optional: passed through when the source has it


def parse_shard(spec: str) -> tuple[int, int]:
    """`I/N` (0 <= I < N): this process takes the I-th of N contiguous slices of the problems."""
    index, sep, count = spec.partition("/")
    if not (sep and index.isdigit() and count.isdigit() and 0 <= int(index) < int(count)):
        raise UsageError(f"--shard expects I/N with 0 <= I < N (e.g. 0/8), got {spec!r}.")
    return int(index), int(count)


def shard_slice(total: int, shard: tuple[int, int]) -> range:
    index, count = shard
    return range(index * total // count, (index + 1) * total // count)


def load_problems(source: str, columns: Columns, split: str = "train", limit: int | None = None) -> list[ProblemRow]:
    """Every problem of `source` (the first `limit`), in order. A GSM8K-style answer (a worked solution ending in
    `#### N`) becomes N, with the worked solution kept as the reference solution."""
    table = load_table(source, split)
    missing = [name for name in (columns.problem, columns.answer) if name not in table.column_names]
    if missing:
        raise UsageError(
            f"Problems {source!r} lack the column(s) {missing} (set --problem-column / --answer-column); "
            f"the columns are {table.column_names}."
        )
    if limit is not None:
        table = table.select(range(min(limit, len(table))))
    has_solution = columns.solution in table.column_names
    rows = []
    for index, row in enumerate(table):
        problem, answer = row[columns.problem], row[columns.answer]
        for name, value in ((columns.problem, problem), (columns.answer, answer)):
            if value is None or not str(value).strip():
                raise UsageError(f"Problems {source!r}, row {index + 1}: column {name!r} is empty.")
        solution = row[columns.solution] if has_solution else None
        answer = str(answer).strip()
        if "####" in answer and final_answer(answer) is not None:
            solution, answer = solution or answer, final_answer(answer)
        rows.append(ProblemRow(index, str(problem).strip(), answer, solution))
    return rows
