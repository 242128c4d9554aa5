"""Training dynamics of several methods on shared axes (matplotlib, PNG), from their `trainer.state.log_history`.

A method with one run is drawn as a line; a method with several runs (seeds) as the mean with a shaded 95% confidence
interval of the mean."""

import os

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt

from .heldout import ACCURACY
from .summary import ONLINE_REWARD, mean_curve

PANELS = (
    (ONLINE_REWARD, "Reward of the policy's own completions", "verifiable reward (teacher rows excluded)"),
    (ACCURACY, "Held-out accuracy (greedy)", "fraction of held-out problems"),
    ("entropy", "Mean token entropy", "entropy (nats)"),
    ("oger/entropy_last/mean", "Last-token entropy", "entropy (nats)"),
    ("oger/divergence/mean", "Divergence from the teachers", "1 - mean cosine similarity"),
    ("oger/exploration_reward/mean", "Exploration reward", "reward"),
)
STYLES = ("-o", "--s", ":^", "-.D", "-v")


def plot_dynamics(runs: dict[str, list[list[dict]]], output_dir: str, prefix: str = "") -> list[str]:
    """One PNG per panel and a combined `dynamics.png` (file names after `prefix`); `runs` maps a method to the log
    histories of its runs."""
    paths = []
    figure, grid = plt.subplots(2, 3, figsize=(15, 8))
    for axis_index, (key, title, unit) in enumerate(PANELS):
        single, axis = plt.subplots(figsize=(6, 4))
        for ax in (axis, grid.flat[axis_index]):
            _draw_panel(ax, runs, key, title, unit)
        single.tight_layout()
        path = os.path.join(output_dir, f"{prefix}{key.replace('/', '_').replace('@', '_at_')}.png")
        single.savefig(path, dpi=110)
        plt.close(single)
        paths.append(path)
    figure.tight_layout()
    combined = os.path.join(output_dir, f"{prefix}dynamics.png")
    figure.savefig(combined, dpi=110)
    plt.close(figure)
    return [combined, *paths]


def _draw_panel(ax, runs: dict[str, list[list[dict]]], key: str, title: str, unit: str) -> None:
    for index, (method, histories) in enumerate(runs.items()):
        steps, mean, low, high = mean_curve(histories, key)
        style = STYLES[index % len(STYLES)]  # distinct styles: equal curves stay visible
        label = method if len(histories) == 1 else f"{method} (n={len(histories)})"
        (line,) = ax.plot(steps, mean, style, markersize=4, label=label)
        if len(histories) > 1:
            ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.15)
    ax.set_title(title)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel(unit)
    ax.grid(alpha=0.3)
    ax.legend()
