"""Numbers read off training log histories (`trainer.state.log_history`): curves, means over seeds with confidence
intervals, time to a threshold. Pure functions: the demo report, the plots and the learning study share them."""

import math
import statistics

from scipy.stats import t as student_t

ONLINE_REWARD = "oger/online_reward/mean"  # verifiable reward of the policy's own completions (teacher rows excluded)


def series(history: list[dict], key: str) -> tuple[list[int], list[float]]:
    """The steps at which `key` was logged and its values."""
    points = [(h["step"], h[key]) for h in history if h.get(key) is not None]
    return [s for s, _ in points], [v for _, v in points]


def value_at(history: list[dict], key: str, step: int) -> float | None:
    return next((h[key] for h in history if h.get("step") == step and h.get(key) is not None), None)


def mean_over_steps(history: list[dict], key: str, first: int, last: int) -> float | None:
    """Mean of `key` over the logged steps first..last (inclusive); None when it was never logged there."""
    values = [v for s, v in zip(*series(history, key), strict=True) if first <= s <= last]
    return sum(values) / len(values) if values else None


def first_step_reaching(history: list[dict], key: str, threshold: float) -> int | None:
    """The first logged step at which `key` is at least `threshold` (time to accuracy); None if never."""
    return next((s for s, v in zip(*series(history, key), strict=True) if v >= threshold), None)


def confidence_interval(values: list[float], level: float = 0.95) -> tuple[float, float]:
    """Mean and the half-width of its Student-t confidence interval (NaN half-width for a single value)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, math.nan
    sem = statistics.stdev(values) / math.sqrt(len(values))
    return mean, student_t.ppf((1 + level) / 2, len(values) - 1) * sem


def mean_curve(histories: list[list[dict]], key: str) -> tuple[list[int], list[float], list[float], list[float]]:
    """Steps logged in every history, with the mean over histories and its 95% interval (low, high) per step."""
    per_run = [dict(zip(*series(h, key), strict=True)) for h in histories]
    steps = sorted(set.intersection(*(set(run) for run in per_run))) if per_run else []
    means, lows, highs = [], [], []
    for step in steps:
        mean, half = confidence_interval([run[step] for run in per_run])
        half = 0.0 if math.isnan(half) else half
        means.append(mean)
        lows.append(mean - half)
        highs.append(mean + half)
    return steps, means, lows, highs
