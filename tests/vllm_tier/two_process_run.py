"""Run under `torchrun --nproc_per_node 2`: OGER with a colocated vLLM engine in each process (vLLM's external
launcher, gloo on CPU), groups of 4 split across the processes (3 rows each), weight sync checked after every step on
every rank. Each rank writes what it measured and decided to `<out>/rank<R>.json`."""

import argparse
import json
import os
import sys
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(HERE)]

from helpers import arithmetic_dataset, build_tokenizer  # noqa: E402
from probes import WeightSyncProbe, fixed_completion, vllm_trainer  # noqa: E402

from oger_trl import SentenceEncoder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    tokenizer = build_tokenizer()
    trainer = vllm_trainer(
        Path(args.out), tokenizer, SentenceEncoder(max_length=128), args.model, arithmetic_dataset(8),
        per_device_train_batch_size=3, num_generations=4, gradient_accumulation_steps=2, max_steps=2,
    )  # fmt: skip
    probe = WeightSyncProbe(trainer, *fixed_completion(tokenizer, "What is 3 + 4?", "The sum is \\boxed{7}."))
    trainer.train()
    trainer.vllm_generation.sync_weights()
    rank = trainer.accelerator.process_index
    with open(os.path.join(args.out, f"rank{rank}.json"), "w") as f:
        json.dump(
            {
                "records": [vars(r) for r in probe.records],
                "logs": [h for h in trainer.state.log_history if "loss" in h],
                "sources": list(trainer._logs["extra"]["source"]),
            },
            f,
        )


if __name__ == "__main__":
    main()
