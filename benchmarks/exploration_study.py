"""The exploration study: what OGER's exploration reward changes, where it weighs what it weighs in the paper.

In the paper a finished completion ends with EOS after its answer, H_last is near 0 and the exploration reward of a
correct online completion is close to its divergence D from the teachers (about 0.2-0.5 against a verifiable reward
of 1). The demo's 32-token completions are cut mid-sentence, so there the reward is at most about 0.02. This study
gives completions room to finish, measures the reward's size first (`--pilot`), and only then compares, as
pre-registered in `studies/exploration/PREREGISTRATION.md` (committed before the first run record):

    python benchmarks/exploration_study.py --pilot --temperature 1   # pilot 1: the reward's size (criterion not met)
    python benchmarks/exploration_study.py --pilot     # pilot 2, at the study's temperature 0.6 (criterion met)
    python benchmarks/exploration_study.py             # the study; each finished run's record is written as it ends
    python benchmarks/exploration_study.py --table     # rebuild results.md and dynamics.png from the records alone

A restarted study skips the runs whose record exists, so it can stop and continue at any run. A record holds the run's
settings, its per-step metrics, its held-out results and the reward-size figures read from its completion table.
"""

import argparse
import dataclasses
import json
import math
import os
import re
import shutil
import statistics
import sys

from oger_trl.run_folder import write_json_atomically

STUDY_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "studies", "exploration")
METHODS = ("OGER", "OGER no bonus", "LUFFY")
COMPARISONS = (("OGER", "OGER no bonus"), ("OGER", "LUFFY"))  # the pre-registered hypotheses: first minus second
DOCS_PLOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "exploration_study.png")
PILOT_SEED = 1000  # outside the study's seeds 0..7
# What "the reward weighs what it weighs in the paper" means, fixed before the pilot ran (last half of the pilot,
# online rows): most completions finish, a correct one is confident at its last token, and its exploration reward is
# at least a tenth of the verifiable reward.
REGIME = {"finished_fraction": 0.5, "confidence_on_correct": 0.7, "bonus_on_correct": 0.1}
# The share of a step's online rows each per-step figure is a mean over (the fractions are over all of them).
ROWS_BEHIND = {
    "bonus_on_correct": "correct_fraction",
    "divergence_on_correct": "correct_fraction",
    "entropy_last_on_correct": "correct_fraction",
    "confidence_on_correct": "correct_fraction",
    "entropy_last_at_eos": "finished_fraction",
}
LOGGED = ("entropy", "loss", "completions/mean_length", "completions/clipped_ratio")  # kept from TRL's log, with
LOGGED_PREFIXES = ("oger/", "heldout/", "rewards/")  # every OGER, held-out and reward metric


def study_settings(steps: int, completion_length: int, temperature: float):
    from oger_trl.demo.settings import RunSettings

    return RunSettings(steps=steps, completion_length=completion_length, temperature=temperature, eval_every=5)


# --- what a record holds ----------------------------------------------------------------------------------------------
def bonus_size(table) -> dict[str, float]:
    """The exploration reward's size over the online rows of a completion table (TRL's `completions/*.parquet`):
    how many finished with EOS, and on the correct ones (accuracy_reward > 0) the mean reward, D, H_last and
    exp(-H_last); H_last also over the finished ones."""
    online = table[table["source"] == "policy"]
    correct = online[online["accuracy_reward"] > 0]
    finished = online[online["finished"]]

    def mean(values) -> float:
        return float(values.mean()) if len(values) else math.nan

    return {
        "online_rows": len(online),
        "finished_fraction": mean(online["finished"].astype(float)),
        "correct_fraction": mean((online["accuracy_reward"] > 0).astype(float)),
        "bonus_on_correct": mean(correct["oger_exploration"]),
        "divergence_on_correct": mean(correct["divergence"]),
        "entropy_last_on_correct": mean(correct["entropy_last"]),
        "confidence_on_correct": mean((-correct["entropy_last"]).map(math.exp)),
        "entropy_last_at_eos": mean(finished["entropy_last"]),
    }


def bonus_size_by_step(completions_dir: str) -> list[dict]:
    import pandas as pd

    files = sorted(os.path.join(completions_dir, f) for f in os.listdir(completions_dir) if f.endswith(".parquet"))
    table = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    return [{"step": int(step), **bonus_size(rows)} for step, rows in table.groupby("step")]


def kept_metrics(history: list[dict]) -> list[dict]:
    """The per-step entries of a log history, with only the metrics the study reads (records stay small)."""
    kept = []
    for entry in history:
        values = {k: v for k, v in entry.items() if k in LOGGED or k.startswith(LOGGED_PREFIXES)}
        if values:
            kept.append({"step": entry["step"], **values})
    return kept


def record_path(records_dir: str, method: str, seed: int) -> str:
    return os.path.join(records_dir, f"{method.replace(' ', '_')}_seed{seed}.json")


def load_records(records_dir: str) -> dict[str, list[dict]]:
    """Records by method (study order), each method's sorted by seed."""
    records: dict[str, list[dict]] = {}
    names = sorted(os.listdir(records_dir)) if os.path.isdir(records_dir) else []
    for name in names:
        if re.fullmatch(r".+_seed\d+\.json", name):  # a record's name (record_path), never a temporary file
            with open(os.path.join(records_dir, name)) as f:
                record = json.load(f)
            records.setdefault(record["method"], []).append(record)
    order = {m: i for i, m in enumerate(METHODS)}
    return {m: sorted(records[m], key=lambda r: r["seed"]) for m in sorted(records, key=lambda m: order.get(m, 99))}


# --- the pre-registered metrics ---------------------------------------------------------------------------------------
def final_value(record: dict, key: str) -> float | None:
    steps = record["settings"]["steps"]
    return next((h[key] for h in record["history"] if h["step"] == steps and h.get(key) is not None), None)


def late_entropy(record: dict) -> float | None:
    """Mean token entropy of the online completions over the last quarter of training."""
    steps = record["settings"]["steps"]
    first = steps - max(1, steps // 4) + 1
    values = [h["entropy"] for h in record["history"] if first <= h["step"] <= steps and h.get("entropy") is not None]
    return statistics.fmean(values) if values else None


def outcomes(record: dict) -> dict[str, float | None]:
    """The hypotheses' metrics of one run."""
    from oger_trl.demo.heldout import ACCURACY, DISTINCT_CORRECT, PASS_AT_KS, pass_at_k_key

    values = {"held-out accuracy": final_value(record, ACCURACY)}
    values.update({f"pass@{k}": final_value(record, pass_at_k_key(k)) for k in PASS_AT_KS})
    values["token entropy, last quarter"] = late_entropy(record)
    values["distinct correct answers"] = final_value(record, DISTINCT_CORRECT)
    return values


def paired_differences(first: list[dict], second: list[dict], metric: str) -> list[float]:
    """first - second for every seed both methods ran (same seed: same data order and starting weights)."""
    theirs = {r["seed"]: outcomes(r)[metric] for r in second}
    return [
        mine - theirs[r["seed"]]
        for r in first
        if (mine := outcomes(r)[metric]) is not None and theirs.get(r["seed"]) is not None
    ]


def interval_cell(values: list[float], signed: bool = False) -> str:
    from oger_trl.demo.summary import confidence_interval

    if not values:
        return "—"
    mean, half = confidence_interval(values)
    sign = "+" if signed else ""
    return f"{mean:{sign}.3f}" if len(values) < 2 else f"{mean:{sign}.3f} ± {half:.3f}"


def results_lines(records: dict[str, list[dict]]) -> list[str]:
    """The study's tables: each method's metrics (mean ± 95% t-interval over seeds), the pre-registered paired
    differences, and the exploration reward's size per method."""
    metrics = list(outcomes(next(iter(records.values()))[0])) if records else []
    lines = ["| method | runs | " + " | ".join(metrics) + " |", "|---|---|" + "---|" * len(metrics)]
    for method, runs in records.items():
        cells = [interval_cell([v for r in runs if (v := outcomes(r)[m]) is not None]) for m in metrics]
        lines.append(f"| {method} | {len(runs)} | " + " | ".join(cells) + " |")
    lines += ["", "| comparison (paired by seed) | pairs | " + " | ".join(metrics) + " |"]
    lines.append("|---|---|" + "---|" * len(metrics))
    for first, second in COMPARISONS:
        if first in records and second in records:
            diffs = [paired_differences(records[first], records[second], m) for m in metrics]
            cells = [interval_cell(d, signed=True) for d in diffs]
            lines.append(f"| {first} − {second} | {len(diffs[0])} | " + " | ".join(cells) + " |")
    size_keys = ("finished_fraction", "bonus_on_correct", "divergence_on_correct", "confidence_on_correct",
                 "entropy_last_at_eos")  # fmt: skip
    lines += ["", "| method | " + " | ".join(size_keys) + " |", "|---|" + "---|" * len(size_keys)]
    for method, runs in records.items():
        cells = [interval_cell([v for r in runs if not math.isnan(v := run_mean(r, k))]) for k in size_keys]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def run_mean(record: dict, key: str) -> float:
    """A reward-size figure over the rows it averages in the whole run, not over steps: a step's figure on correct
    rows weighs as many rows as the step had correct, H_last at EOS as many as had finished."""
    steps = [s for s in record["bonus_size"] if not math.isnan(s[key])]
    rows = [s["online_rows"] * (s[ROWS_BEHIND[key]] if key in ROWS_BEHIND else 1.0) for s in steps]
    total = sum(rows)
    return sum(s[key] * n for s, n in zip(steps, rows, strict=True)) / total if total else math.nan


def write_results(records_dir: str, output_dir: str, command: str, docs_plot: str | None = None) -> str:
    """`results.md` (its tables between snippet markers, which the docs include) and the plots in `output_dir`; the
    combined plot also copied to `docs_plot`."""
    from oger_trl.demo.plots import plot_dynamics

    records = load_records(records_dir)
    if not records:
        sys.exit(f"No run records in {records_dir}.")
    settings = next(iter(records.values()))[0]["settings"]
    lines = [
        "# Exploration study: results",
        "",
        f"Rebuilt from the records in `{os.path.relpath(records_dir, output_dir)}` by `{command}`.",
        "",
        "<!-- --8<-- [start:tables] -->",
        "Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()) + ". Metrics at the last step; ± is the "
        "half-width of the 95% t-interval over seeds; each reward-size column is a mean over the online rows it is "
        "about (all, correct or finished) in a run.",
        "",
        *results_lines(records),
        "<!-- --8<-- [end:tables] -->",
        "",
    ]
    os.makedirs(output_dir, exist_ok=True)
    plots = plot_dynamics({m: [r["history"] for r in runs] for m, runs in records.items()}, output_dir)
    if docs_plot:
        shutil.copyfile(plots[0], docs_plot)
    path = os.path.join(output_dir, "results.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return path


# --- running ------------------------------------------------------------------------------------------------------------
def run_and_record(method: str, seed: int, settings, path: str, work_root: str, pass_at_k: int) -> None:
    from oger_trl.demo.runs import train_run
    from oger_trl.demo.tasks import addition_task
    from oger_trl.encoder import SentenceEncoder
    from oger_trl.smollm2 import OFFLINE_NAME, resolve_model_name

    work_dir = os.path.join(work_root, os.path.basename(path)[: -len(".json")])
    shutil.rmtree(work_dir, ignore_errors=True)  # an interrupted attempt's completion tables must not count
    encoder = SentenceEncoder(max_length=settings.encoder_max_length)
    result = train_run(
        method, addition_task(40), settings, seed, resolve_model_name(OFFLINE_NAME), encoder, work_dir,
        pass_at_k_samples=pass_at_k,
    )  # fmt: skip
    write_json_atomically({
        "method": method, "seed": seed, "settings": dataclasses.asdict(settings), "seconds": result.seconds,
        "history": kept_metrics(result.history),
        "bonus_size": bonus_size_by_step(os.path.join(work_dir, "completions")),
    }, path)  # fmt: skip


def in_regime(record: dict) -> dict[str, tuple[float, bool]]:
    """Each REGIME figure over the last half of a run, and whether it reaches its threshold."""
    half = record["settings"]["steps"] // 2
    late = {**record, "bonus_size": [s for s in record["bonus_size"] if s["step"] > half]}
    return {key: (value := run_mean(late, key), value >= threshold) for key, threshold in REGIME.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pilot", action="store_true", help="one OGER run (seed 1000): the reward's size")
    parser.add_argument("--table", action="store_true", help="rebuild results.md and the plot from the records")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--completion-length", type=int, default=64, help="room to finish: the teachers need <= 25")
    parser.add_argument("--temperature", type=float, default=0.6, help="sampling; TRL's entropies use it too")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--pass-at-k", type=int, default=16)
    parser.add_argument("--study-dir", default=STUDY_DIR)
    parser.add_argument("--docs-plot", default=DOCS_PLOT, help="where the docs show the study's plot")
    parser.add_argument("--work-dir", default="outputs/exploration-study", help="checkpoints and completion tables")
    cli = parser.parse_args()
    settings = study_settings(cli.steps, cli.completion_length, cli.temperature)
    pilot_dir = os.path.join(cli.study_dir, "pilot", f"len{settings.completion_length}-t{settings.temperature}")
    records_dir = pilot_dir if cli.pilot else os.path.join(cli.study_dir, "records")
    if not cli.table:
        plan = [("OGER", PILOT_SEED)] if cli.pilot else [(m, s) for s in range(cli.seeds) for m in METHODS]
        for method, seed in plan:  # seed-major: an interrupted study holds balanced numbers of runs per method
            path = record_path(records_dir, method, seed)
            if os.path.exists(path):
                print(f"{method}, seed {seed}: recorded earlier ({path})")
                continue
            work_root = os.path.join(cli.work_dir, os.path.relpath(records_dir, cli.study_dir))
            run_and_record(method, seed, settings, path, work_root, cli.pass_at_k)
            print(f"{method}, seed {seed}: recorded in {path}")
    if cli.pilot:
        with open(record_path(records_dir, "OGER", PILOT_SEED)) as f:
            for key, (value, reached) in in_regime(json.load(f)).items():
                print(f"{key}: {value:.3f} ({'>=' if reached else '<'} {REGIME[key]})")
    if cli.pilot:
        command = f"python benchmarks/exploration_study.py --pilot --table --temperature {cli.temperature}"
        results = write_results(records_dir, pilot_dir, command)
    else:
        results = write_results(
            records_dir, cli.study_dir, "python benchmarks/exploration_study.py --table", cli.docs_plot
        )
    with open(results, encoding="utf-8") as f:
        print(f.read())


if __name__ == "__main__":
    main()
