"""The learning study: the demo's task and settings over several seeds per method, with 95% confidence intervals.

OGER, GRPO and LUFFY-style (5 seeds each by default) and the ablations OGER g=1 (no entropy modulation) and OGER
without the exploration reward (3 seeds each), all from the same SmolLM2-135M-Instruct weights on single-digit
addition. Each finished run is written to `<output-dir>/runs/` as it ends; a restarted study skips the runs already
there. The seeds and the accuracy threshold for time-to-accuracy are fixed here, before any result was seen.

    python benchmarks/learning_study.py                      # about 80 min on 2 CPU cores
    python benchmarks/learning_study.py --seeds 2 --ablation-seeds 1 --output-dir outputs/quick-study

The exploration study (issue: pluggable bonuses) compares OGER with its exploration variants, adding the held-out
pass@1/4/16 of the final policy (16 sampled answers per problem):

    python benchmarks/learning_study.py --methods EXPLORATION --pass-at-k 16 --output-dir outputs/exploration-study
"""

import argparse
import dataclasses
import json
import os
import statistics

from oger_trl.demo.heldout import ACCURACY, LENIENT_ACCURACY, PASS_AT_KS, pass_at_k_key
from oger_trl.demo.plots import plot_dynamics
from oger_trl.demo.runs import train_run
from oger_trl.demo.settings import METHODS, RunSettings
from oger_trl.demo.summary import ONLINE_REWARD, confidence_interval, first_step_reaching, mean_over_steps, value_at
from oger_trl.demo.tasks import DemoTask, addition_task
from oger_trl.encoder import SentenceEncoder
from oger_trl.run_folder import write_json_atomically
from oger_trl.smollm2 import OFFLINE_NAME, resolve_model_name

MAIN_METHODS = ("OGER", "GRPO", "LUFFY")
ABLATIONS = ("OGER g=1", "OGER no bonus")
EXPLORATION = ("OGER", "OGER representation", "OGER self-teachers", "OGER cosine coef")
THRESHOLD = 0.5  # held-out accuracy for time-to-accuracy, fixed before the study ran
HELD_OUT = 40


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", default="outputs/learning-study")
    parser.add_argument("--model", default=OFFLINE_NAME)
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 for OGER, GRPO and LUFFY")
    parser.add_argument("--ablation-seeds", type=int, default=3, help="seeds 0..N-1 for the two ablations")
    parser.add_argument("--steps", type=int, default=RunSettings.steps)
    parser.add_argument(
        "--methods",
        default=None,
        help="comma-separated methods (or EXPLORATION: OGER and its exploration variants), each for --seeds seeds, "
        "instead of the main methods and ablations",
    )
    parser.add_argument("--pass-at-k", type=int, default=0, help="sampled answers per held-out problem for pass@k")
    parser.add_argument(
        "--train-problems",
        type=int,
        default=0,
        help="train on the first N training problems only (0: all), so that prompts recur within a run: the "
        "self-teacher pool acts only on a prompt seen again",
    )
    cli = parser.parse_args()
    available = len(study_task(0).train)
    if not 0 <= cli.train_problems <= available:
        parser.error(f"--train-problems must be between 0 and {available}, got {cli.train_problems}")
    if cli.methods is not None:
        cli.methods = EXPLORATION if cli.methods == "EXPLORATION" else tuple(m.strip() for m in cli.methods.split(","))
        unknown = sorted(set(cli.methods) - set(METHODS))
        if unknown:
            parser.error(f"unknown methods {unknown}; known: {sorted(METHODS)}")
    return cli


def planned_runs(seeds: int, ablation_seeds: int, methods: tuple[str, ...] | None = None) -> list[tuple[str, int]]:
    """Seed-major order, so that an interrupted study holds balanced numbers of runs per method."""
    if methods is not None:
        return [(m, seed) for seed in range(seeds) for m in methods]
    plan = []
    for seed in range(max(seeds, ablation_seeds)):
        plan += [(m, seed) for m in MAIN_METHODS if seed < seeds]
        plan += [(m, seed) for m in ABLATIONS if seed < ablation_seeds]
    return plan


def run_path(output_dir: str, method: str, seed: int) -> str:
    return os.path.join(output_dir, "runs", f"{method.replace(' ', '_').replace('=', '')}_seed{seed}.json")


def study_task(train_problems: int) -> DemoTask:
    """The addition task; with `train_problems` > 0 only that many training problems (the held-out set is unchanged)."""
    task = addition_task(HELD_OUT)
    if train_problems:
        task = dataclasses.replace(task, train=task.train.select(range(train_problems)))
    return task


def run_study(cli: argparse.Namespace, settings: RunSettings) -> None:
    task = study_task(cli.train_problems)
    model_path = resolve_model_name(cli.model)
    encoder = SentenceEncoder(max_length=settings.encoder_max_length)
    start_path = os.path.join(cli.output_dir, "start.json")
    start = None
    if os.path.exists(start_path):
        with open(start_path) as f:
            saved = json.load(f)
        start = saved["metrics"], saved["samples"]
    for method, seed in planned_runs(cli.seeds, cli.ablation_seeds, cli.methods):
        path = run_path(cli.output_dir, method, seed)
        if os.path.exists(path):
            print(f"{method}, seed {seed}: done earlier ({path})")
            continue
        work_dir = os.path.join(cli.output_dir, "work", os.path.basename(path)[: -len(".json")])
        result = train_run(method, task, settings, seed, model_path, encoder, work_dir, start, cli.pass_at_k)
        if start is None:
            start = {key: result.history[0][key] for key in (ACCURACY, LENIENT_ACCURACY)}, result.samples[0]
            write_json_atomically({"metrics": start[0], "samples": start[1]}, start_path)
        final = result.samples[max(result.samples)]
        write_json_atomically({"method": method, "seed": seed, "seconds": result.seconds, "history": result.history,
                               "final_answers": final}, path)  # fmt: skip


def load_runs(output_dir: str, plan: list[tuple[str, int]]) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {}
    for method, seed in plan:
        path = run_path(output_dir, method, seed)
        if os.path.exists(path):
            with open(path) as f:
                runs.setdefault(method, []).append(json.load(f))
    return runs


def study_table(runs: dict[str, list[dict]], settings: RunSettings) -> list[str]:
    window = max(1, settings.steps // 4)
    last = settings.steps
    lines = [
        f"| method | runs | held-out accuracy at step {last}, mean ± 95% CI | per seed | online reward, steps "
        f"1-{window} → {last - window + 1}-{last} | steps to accuracy ≥ {THRESHOLD} (per seed) | token entropy, "
        f"last {window} steps | minus OGER, paired by seed, mean ± 95% CI | minutes per run (median) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    oger_finals = {r["seed"]: value_at(r["history"], ACCURACY, last) for r in runs.get("OGER", [])}
    for method, records in runs.items():
        histories = [r["history"] for r in records]
        finals = [value_at(h, ACCURACY, last) for h in histories]
        mean, half = confidence_interval(finals)
        early = statistics.fmean(mean_over_steps(h, ONLINE_REWARD, 1, window) for h in histories)
        late = statistics.fmean(mean_over_steps(h, ONLINE_REWARD, last - window + 1, last) for h in histories)
        reached = [first_step_reaching(h, ACCURACY, THRESHOLD) for h in histories]
        entropy = statistics.fmean(mean_over_steps(h, "entropy", last - window + 1, last) for h in histories)
        minutes = statistics.median(r["seconds"] for r in records) / 60
        paired = [
            value_at(r["history"], ACCURACY, last) - oger_finals[r["seed"]]
            for r in records
            if r["seed"] in oger_finals
        ]
        cells = [
            method,
            str(len(records)),
            f"{mean:.3f} ± {half:.3f}" if len(finals) > 1 else f"{mean:.3f}",
            ", ".join(f"{v:.3f}" for v in finals),
            f"{early:.3f} → {late:.3f}",
            ", ".join("—" if s is None else str(s) for s in reached),
            f"{entropy:.3f}",
            _paired_cell(paired) if method != "OGER" else "—",
            f"{minutes:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def pass_at_k_table(runs: dict[str, list[dict]], settings: RunSettings) -> list[str]:
    """Held-out pass@k of the final policies, mean ± 95% CI over seeds (only when the runs sampled it)."""
    ks = [k for k in PASS_AT_KS if any(value_at(r["history"], pass_at_k_key(k), settings.steps) is not None
                                        for records in runs.values() for r in records)]  # fmt: skip
    if not ks:
        return []
    lines = [
        "| method | runs | " + " | ".join(f"pass@{k}, mean ± 95% CI" for k in ks) + " |",
        "|---|---|" + "---|" * len(ks),
    ]
    for method, records in runs.items():
        cells = [method, str(len(records))]
        for k in ks:
            values = [
                v for r in records if (v := value_at(r["history"], pass_at_k_key(k), settings.steps)) is not None
            ]
            mean, half = confidence_interval(values) if values else (float("nan"), float("nan"))
            cells.append(f"{mean:.3f} ± {half:.3f}" if len(values) > 1 else f"{mean:.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return ["", f"Held-out pass@k of the final policy (sampled at temperature {settings.temperature}):", "", *lines]


def _paired_cell(differences: list[float]) -> str:
    """Mean difference of final accuracy from OGER's run of the same seed (same data order), with its 95% interval."""
    if len(differences) < 2:
        return "n/a"
    mean, half = confidence_interval(differences)
    return f"{mean:+.3f} ± {half:.3f}"


def write_summary(cli: argparse.Namespace, settings: RunSettings) -> str:
    runs = load_runs(cli.output_dir, planned_runs(cli.seeds, cli.ablation_seeds, cli.methods))
    total_minutes = sum(r["seconds"] for records in runs.values() for r in records) / 60
    histories = {m: [r["history"] for r in records] for m, records in runs.items()}
    shown = cli.methods or MAIN_METHODS
    plot_dynamics({m: h for m, h in histories.items() if m in shown}, cli.output_dir)
    plot_dynamics(histories, cli.output_dir, prefix="all_methods_")
    start = next(iter(runs.values()))[0]["history"][0]
    lines = [
        "# Learning study",
        "",
        f"Policy `{cli.model}`, single-digit addition ({len(study_task(cli.train_problems).train)} training problems, "
        f"{HELD_OUT} held-out problems, greedy, scored by "
        f"`accuracy_reward`); {settings.steps} steps of {settings.prompts_per_step} prompts x "
        f"{settings.num_generations} completions (<= {settings.completion_length} tokens, temperature "
        f"{settings.temperature}), learning rate {settings.learning_rate}. Starting point (all runs): held-out "
        f"accuracy {start[ACCURACY]:.3f}, lenient {start[LENIENT_ACCURACY]:.3f}. Time to accuracy: the first "
        f"evaluated step (every {settings.eval_every}) with held-out accuracy ≥ {THRESHOLD}; — = not reached.",
        "",
        *study_table(runs, settings),
        *pass_at_k_table(runs, settings),
        "",
        f"{sum(map(len, runs.values()))} runs, {total_minutes:.0f} min of run time in total (each run: loading, training "
        f"and its held-out evaluations). Plots: `dynamics.png` ({', '.join(shown)}: mean and 95% CI per step), "
        "`all_methods_dynamics.png` (every method).",
        "",
    ]
    path = os.path.join(cli.output_dir, "study.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return path


def main() -> None:
    cli = parse_args()
    settings = RunSettings(steps=cli.steps)
    run_study(cli, settings)
    summary = write_summary(cli, settings)
    with open(summary, encoding="utf-8") as f:
        print(f.read())


if __name__ == "__main__":
    main()
