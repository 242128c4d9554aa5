"""`report.md` of the demo: every number is read from the runs' log histories and held-out answers."""

import os

from .heldout import ACCURACY, LENIENT_ACCURACY
from .runs import RunResult
from .settings import METHOD_DESCRIPTIONS, RunSettings
from .summary import ONLINE_REWARD, mean_over_steps, value_at

DYNAMICS = (
    (ONLINE_REWARD, "reward of the policy's own completions"),
    ("reward", "TRL's training reward (teacher rows included)"),
    ("oger/offline_frac", "share of teacher completions in the groups"),
    ("oger/offline_reward/mean", "reward of the teacher completions"),
    ("oger/divergence/mean", "divergence of online completions from the teachers (0-1)"),
    ("oger/exploration_reward/mean", "exploration reward of online completions"),
    ("entropy", "mean token entropy (nats)"),
    ("oger/entropy_last/mean", "last-token entropy (nats)"),
    ("completions/mean_length", "completion length (tokens)"),
)
NUM_SAMPLES = 6


def _cell(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def online_reward_window(settings: RunSettings) -> int:
    """Steps averaged at each end of a run to show whether the online reward rose."""
    return max(1, settings.steps // 4)


def write_report(
    output_dir: str, model: str, task_description: str, settings: RunSettings, seed: int, results: list[RunResult]
) -> str:
    window = online_reward_window(settings)
    steps = settings.eval_steps
    lines = [
        f"# OGER demo: {', '.join(r.method for r in results)} from the same starting point",
        "",
        f"Policy `{model}`; task: {task_description}. Every run: {settings.steps} optimizer steps of "
        f"{settings.prompts_per_step} prompts x {settings.num_generations} completions of at most "
        f"{settings.completion_length} tokens at temperature {settings.temperature}, learning rate "
        f"{settings.learning_rate}, `dr_grpo` loss, no reward scaling, no KL, seed {seed}; the same starting weights, "
        "data order and seed for all runs. Reward: TRL's `accuracy_reward` (math-verify, the answer must be LaTeX such "
        "as `\\boxed{7}`).",
        "",
        *(f"- **{r.method}**: {METHOD_DESCRIPTIONS[r.method]} ({r.seconds / 60:.1f} min)" for r in results),
        "",
        f"## Held-out accuracy (greedy, {len(results[0].samples[0])} problems never trained on)",
        "",
        "Scored by the training reward. *Lenient* also accepts a bare final number (math-verify without the LaTeX "
        "requirement): the gap between the two is the answer format.",
        "",
        "| method | " + " | ".join(f"step {s}" for s in steps) + " | change | lenient, start | lenient, end |",
        "|---|" + "---|" * (len(steps) + 3),
    ]
    for r in results:
        accuracies = [value_at(r.history, ACCURACY, s) for s in steps]
        change = accuracies[-1] - accuracies[0] if None not in (accuracies[0], accuracies[-1]) else None
        lenient = [value_at(r.history, LENIENT_ACCURACY, s) for s in (steps[0], steps[-1])]
        cells = [*map(_cell, accuracies), f"{change:+.3f}" if change is not None else "n/a", *map(_cell, lenient)]
        lines.append(f"| {r.method} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"## Reward of the policy's own completions (`{ONLINE_REWARD}`, teacher rows excluded)",
        "",
        f"| method | steps 1-{window} | steps {settings.steps - window + 1}-{settings.steps} |",
        "|---|---|---|",
    ]
    for r in results:
        first = mean_over_steps(r.history, ONLINE_REWARD, 1, window)
        last = mean_over_steps(r.history, ONLINE_REWARD, settings.steps - window + 1, settings.steps)
        lines.append(f"| {r.method} | {_cell(first)} | {_cell(last)} |")
    lines += [
        "",
        "## Training dynamics (mean over all steps)",
        "",
        "| metric | " + " | ".join(r.method for r in results) + " |",
        "|---|" + "---|" * len(results),
    ]
    for key, label in DYNAMICS:
        cells = [_cell(mean_over_steps(r.history, key, 1, settings.steps), 4) for r in results]
        lines.append(f"| {label} (`{key}`) | " + " | ".join(cells) + " |")
    lines += ["", "## Plots", "", "![dynamics.png](dynamics.png)", "", *held_out_samples(results, steps[-1]), ""]
    path = os.path.join(output_dir, "report.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return path


def held_out_samples(results: list[RunResult], last_step: int) -> list[str]:
    """A few held-out problems: the shared starting answer and each method's final answer, marked right or wrong."""
    lines = ["## Held-out answers before and after", ""]
    before = results[0].samples[0]
    for index in range(min(NUM_SAMPLES, len(before))):
        lines += [f"**{before[index]['question']}** (gold: {before[index]['solution']})", ""]
        lines.append(f"- before training: {_answer(before[index])}")
        lines += [f"- {r.method}, step {last_step}: {_answer(r.samples[last_step][index])}" for r in results]
        lines.append("")
    return lines


def _answer(sample: dict) -> str:
    text = " ".join(sample["answer"].split()).replace("`", "'") or "(empty)"
    return f"{'✓' if sample['correct'] else '✗'} `{text}`"
