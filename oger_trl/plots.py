"""Training dynamics of several runs on shared axes (matplotlib, PNG), from their `trainer.state.log_history`."""

import os

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt

PANELS = (
    ("reward", "Training reward", "mean reward per completion"),
    ("eval/gsm8k/avg@1", "Held-out accuracy", "accuracy (fraction of problems)"),
    ("entropy", "Mean token entropy", "entropy (nats)"),
    ("oger/entropy_last/mean", "Last-token entropy", "entropy (nats)"),
    ("oger/divergence/mean", "Divergence from the teachers", "1 - mean cosine similarity"),
    ("oger/exploration_reward/mean", "Exploration reward", "reward"),
)


STYLES = ("-o", "--s", ":^", "-.D")


def series(history: list[dict], key: str) -> tuple[list[int], list[float]]:
    points = [(h["step"], h[key]) for h in history if h.get(key) is not None]
    return [s for s, _ in points], [v for _, v in points]


def plot_dynamics(histories: dict[str, list[dict]], start: dict[str, float], output_dir: str) -> list[str]:
    """One PNG per panel and a combined `dynamics.png`; `start` adds each run's step-0 held-out accuracy."""
    paths = []
    figure, grid = plt.subplots(2, 3, figsize=(15, 8))
    for axis_index, (key, title, unit) in enumerate(PANELS):
        single, axis = plt.subplots(figsize=(6, 4))
        for ax in (axis, grid.flat[axis_index]):
            for name, history in histories.items():
                steps, values = series(history, key)
                if key.startswith("eval/") and name in start:
                    steps, values = [0, *steps], [start[name], *values]
                style = STYLES[list(histories).index(name) % len(STYLES)]
                ax.plot(steps, values, style, markersize=4, label=name)  # distinct styles: equal curves stay visible
            ax.set_title(title)
            ax.set_xlabel("optimizer step")
            ax.set_ylabel(unit)
            ax.grid(alpha=0.3)
            ax.legend()
        single.tight_layout()
        path = os.path.join(output_dir, f"{key.replace('/', '_').replace('@', '_at_')}.png")
        single.savefig(path, dpi=110)
        plt.close(single)
        paths.append(path)
    figure.tight_layout()
    combined = os.path.join(output_dir, "dynamics.png")
    figure.savefig(combined, dpi=110)
    plt.close(figure)
    return [combined, *paths]
