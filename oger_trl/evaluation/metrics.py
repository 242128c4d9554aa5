"""avg@k and the unbiased pass@k estimator (Chen et al., 2021), per benchmark and averaged over benchmarks; the number
of different correct answers among a problem's samples."""

from collections import defaultdict
from math import comb
from statistics import mean


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n (c of them correct) is correct:
    1 - C(n - c, k) / C(n, k)."""
    if not 0 < k <= n or not 0 <= c <= n:
        raise ValueError(f"need 0 < k <= n and 0 <= c <= n, got n={n}, c={c}, k={k}")
    return 1.0 - comb(n - c, k) / comb(n, k)


def mean_pass_at_k(correct: list[int], sizes: list[int], k: int) -> float:
    """pass@k averaged over items, item i having `correct[i]` correct of `sizes[i]` samples."""
    return mean(pass_at_k(s, c, k) for c, s in zip(correct, sizes, strict=True))


def distinct_correct(texts: list[str], correct: list[bool]) -> int:
    """How many different correct answers a problem's samples hold: texts compared with their whitespace collapsed, so
    that a line break is not another way to answer."""
    return len({" ".join(text.split()) for text, right in zip(texts, correct, strict=True) if right})


def reported_ks(n: int) -> list[int]:
    """The pass@k values worth reporting for n samples: 1, powers of two, and n."""
    ks, k = [], 1
    while k < n:
        ks.append(k)
        k *= 2
    return [*ks, n]


def benchmark_metrics(items: list[list[dict]], n: int) -> dict:
    """Metrics of one benchmark from its items' sample records."""
    correct = [sum(r["correct"] for r in records) for records in items]
    sizes = [len(records) for records in items]
    flat = [r for records in items for r in records]
    metrics = {
        "items": len(items),
        "samples_per_item": n,
        f"avg@{n}": mean(c / s for c, s in zip(correct, sizes, strict=True)),
    }
    for k in reported_ks(n):
        metrics[f"pass@{k}"] = mean_pass_at_k(correct, sizes, k)
    metrics["mean_response_tokens"] = mean(r["num_tokens"] for r in flat)
    metrics["truncation_rate"] = mean(float(r["truncated"]) for r in flat)
    return metrics


def summarize(samples: list[dict], n: int, domains: dict[str, str]) -> dict:
    """Metrics from per-sample records (`benchmark`, `id`, `correct`, `num_tokens`, `truncated`).

    Per benchmark: `avg@n` (mean accuracy over all samples of all items), `pass@k` for the reported k, the mean
    response length in tokens and the truncation rate. Then the unweighted means of avg@n over in-domain and
    out-of-domain benchmarks, as in the paper's tables.
    """
    by_item = defaultdict(list)
    for record in samples:
        by_item[(record["benchmark"], record["id"])].append(record)
    per_benchmark = defaultdict(list)
    for (benchmark, _), records in by_item.items():
        per_benchmark[benchmark].append(records)
    results = {name: benchmark_metrics(items, n) for name, items in sorted(per_benchmark.items())}
    averages = {}
    for domain in ("in", "out"):
        scores = [m[f"avg@{n}"] for b, m in results.items() if domains.get(b) == domain]
        if scores:
            averages[f"{domain}_domain_avg@{n}"] = mean(scores)
    return {"benchmarks": results, **averages}
