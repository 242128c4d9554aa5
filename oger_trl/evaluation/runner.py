"""Evaluate a model on benchmarks: sample, grade, write every sample to JSONL (resumable), then score.

Outputs in `output_dir`: `samples/<benchmark>.jsonl` (one line per sample: prompt, completion, extracted answer, gold,
correct), `results.json` (settings and metrics) and `results.md` (the table). The JSONL files are the source of truth:
the metrics are recomputed from them, and a rerun only generates the items they do not hold yet.
"""

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from tqdm.auto import tqdm

from ..math_answers import grade_choice, grade_math
from ..run_folder import claim_folder
from .benchmarks import Benchmark, EvalItem
from .metrics import reported_ks, summarize


@dataclass(frozen=True)
class EvalSettings:
    n: int = 8
    temperature: float = 0.6
    top_p: float = 1.0
    max_new_tokens: int = 8192
    think_gate: bool = False
    batch_size: int = 8
    limit: int | None = None


def evaluate(
    generator,
    benchmarks: list[tuple[Benchmark, list[EvalItem]]],
    output_dir: str,
    settings: EvalSettings,
    identity: dict | None = None,
    overlap: dict[str, int] | None = None,
) -> dict:
    """Run `benchmarks` (from `load_items`) with `generator` (see `generation.py`) and write the outputs. `identity`
    names what produced the samples (model, adapter, ...): samples already in `output_dir` are reused only when they
    come from the same identity and generation settings. `overlap` counts, per benchmark, the questions the model was
    trained on (see `overlap.py`): reported in the results, since those scores are not held out."""
    identity = {**(identity or {}), **generation_identity(settings)}
    claim_folder(output_dir, identity, "samples", "samples")
    samples, domains = [], {}
    for benchmark, items in benchmarks:
        domains[benchmark.name] = benchmark.domain
        samples += run_benchmark(generator, benchmark, items, output_dir, settings)
    summary = summarize(samples, settings.n, domains)
    results = {"model": _model_name(identity), "settings": asdict(settings), **summary}
    if overlap is not None:
        results["overlap_with_training"] = overlap
    with open(os.path.join(output_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(output_dir, "results.md"), "w") as f:
        f.write(markdown_table(results, settings.n))
    return results


def generation_identity(settings: EvalSettings) -> dict:
    """The settings a sample depends on (not how many are drawn, nor how they are batched)."""
    return {
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "max_new_tokens": settings.max_new_tokens,
        "think_gate": settings.think_gate,
    }


def _model_name(identity: dict) -> str:
    model, adapter = identity.get("model", ""), identity.get("adapter")
    return f"{model} + {adapter}" if adapter else model


def run_benchmark(generator, benchmark: Benchmark, items: list[EvalItem], output_dir: str, settings: EvalSettings):
    path = os.path.join(output_dir, "samples", f"{benchmark.name}.jsonl")
    done = complete_items(path, settings.n)
    todo = [item for item in items if item.id not in done]
    print(f"{benchmark.name}: {len(items) - len(todo)} of {len(items)} items already done")
    with open(path, "a", encoding="utf-8") as f, tqdm(total=len(todo), desc=benchmark.name, unit="item") as bar:
        for batch in answer_batches(generator, benchmark, todo, settings):
            for records in batch:
                done[records[0]["id"]] = records
                f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
            f.flush()
            os.fsync(f.fileno())
            bar.update(len(batch))
    wanted = {item.id for item in items}
    return [r for item_id, records in done.items() if item_id in wanted for r in records]


def answer_batches(
    generator, benchmark: Benchmark, items: list[EvalItem], settings: EvalSettings
) -> Iterator[list[list[dict]]]:
    """Sample `settings.n` answers per item, `settings.batch_size` items per generation call; yields, per batch, the
    graded records of each item."""
    for start in range(0, len(items), settings.batch_size):
        batch = items[start : start + settings.batch_size]
        prompts = [generator.render(item.prompt) for item in batch]
        outputs = generator.generate(
            prompts, settings.n, settings.temperature, settings.top_p, settings.max_new_tokens
        )
        yield [
            [grade_record(benchmark, item, i, completion, settings) for i, completion in enumerate(completions)]
            for item, completions in zip(batch, outputs, strict=True)
        ]


def grade_record(benchmark: Benchmark, item: EvalItem, sample: int, completion, settings: EvalSettings) -> dict:
    grade = grade_math if benchmark.kind == "math" else grade_choice
    result = grade(completion.text, item.gold, think_gate=settings.think_gate)
    return {
        "benchmark": benchmark.name,
        "id": item.id,
        "sample": sample,
        "prompt": item.prompt,
        "completion": completion.text,
        "extracted": result.extracted,
        "gold": item.gold,
        "correct": result.correct,
        "num_tokens": completion.num_tokens,
        "truncated": completion.truncated,
    }


def complete_items(path: str, n: int) -> dict[str, list[dict]]:
    """Items with all n samples in the file; the file is rewritten without partial items (from an interrupted run)."""
    if not os.path.exists(path):
        return {}
    by_item: dict[str, list[dict]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a line cut by the interruption
                continue
            by_item.setdefault(record["id"], []).append(record)
    complete = {i: records for i, records in by_item.items() if len(records) == n}
    if len(complete) != len(by_item) or sum(map(len, by_item.values())) != sum(map(len, complete.values())):
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            for records in complete.values():
                f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        os.replace(tmp, path)
    return complete


def markdown_table(results: dict, n: int) -> str:
    ks = [k for k in reported_ks(n) if k != n]
    header = ["benchmark", "items", f"avg@{n}", *(f"pass@{k}" for k in ks), f"pass@{n}", "mean tokens", "truncated"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, m in results["benchmarks"].items():
        cells = [name, str(m["items"]), *(f"{100 * m[key]:.1f}" for key in header[2:-2])]
        cells += [f"{m['mean_response_tokens']:.0f}", f"{100 * m['truncation_rate']:.1f}%"]
        lines.append("| " + " | ".join(cells) + " |")
    for domain in ("in", "out"):
        key = f"{domain}_domain_avg@{n}"
        if key in results:
            lines.append(f"| **{domain}-domain average** | | {100 * results[key]:.1f} |" + " |" * (len(header) - 3))
    for name, count in results.get("overlap_with_training", {}).items():
        if count:
            items = results["benchmarks"][name]["items"]
            lines.append(
                f"\n**Warning: {count} of {items} {name} problems are among the model's training prompts**: its "
                f"{name} score is not a held-out score."
            )
    settings = results["settings"]
    lines += [
        "",
        f"Model: `{results['model']}`; {n} samples per problem at temperature {settings['temperature']}, top-p "
        f"{settings['top_p']}, at most {settings['max_new_tokens']} new tokens. Scores in %.",
    ]
    return "\n".join(lines) + "\n"
