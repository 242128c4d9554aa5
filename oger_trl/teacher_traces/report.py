"""The per-teacher figures the paper reports for its trace data: samples, mean length in tokens, accuracy, and the
share cut by the token budget (a truncated trace has no final answer, so it is also counted wrong)."""


def teacher_summary(teacher: str, records: list[dict]) -> dict:
    tokens = [t for r in records for t in r["generation_tokens"]]
    correct = [c for r in records for c in r["correctness_math_verify"]]
    reasons = [f for r in records for f in r["finish_reasons"]]
    samples = len(tokens)
    return {
        "teacher": teacher,
        "problems": len(records),
        "samples": samples,
        "mean_tokens": sum(tokens) / samples if samples else 0.0,
        "accuracy": sum(correct) / samples if samples else 0.0,
        "truncated_share": reasons.count("length") / samples if samples else 0.0,
        "problems_solved": sum(any(r["correctness_math_verify"]) for r in records),
    }


def markdown_table(summaries: list[dict]) -> str:
    lines = [
        "| teacher | problems | samples | mean length (tokens) | accuracy | truncated | problems solved |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        lines.append(
            f"| {s['teacher']} | {s['problems']} | {s['samples']} | {s['mean_tokens']:.0f} | "
            f"{100 * s['accuracy']:.1f}% | {100 * s['truncated_share']:.1f}% | {s['problems_solved']} |"
        )
    return "\n".join(lines) + "\n"
