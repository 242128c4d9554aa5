"""Train OGER for a few steps (under torchrun, any number of processes) and dump what every generation batch decided.

With `--canned`, TRL's sampling is replaced by completions that depend only on (global row, step), so runs with
different process counts see the same generation batch and must make the same decisions.
"""

import argparse
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from datasets import concatenate_datasets
from helpers import (
    arithmetic_dataset,
    base_config_kwargs,
    build_model,
    build_tokenizer,
    hint_aware,
    letter_reward,
    rationale_dataset,
    recording_trainer_class,
)
from trl.rewards import accuracy_reward

from oger_trl import OGERConfig, SentenceEncoder
from oger_trl.process_exit import exit_finished_multi_process_run

PROBE_TEXTS = ["We add 3 and 4 to get \\boxed{7}.", "apples books coins", "The total is 12."]
CANNED = [
    "We add {a} and {b}. The sum is {s}, so the answer is \\boxed{{{s}}}.",
    "apples books coins {a} more",
    "First {a}, then {b} more: the total is \\boxed{{{s}}}",
    "each has more so answer is {b}",
    "The total is {a} plus {b}: \\boxed{{{s}}}.",
]


class CannedTrainer(recording_trainer_class()):
    canned = False

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        if not self.canned:
            return super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations)
        first = self.accelerator.process_index * len(prompt_ids)
        completions = []
        for i, ids in enumerate(prompt_ids):
            a, b = map(int, re.search(r"What is (\d+) \+ (\d+)", self._tokenizer.decode(ids)).groups())
            template = CANNED[(first + i + 2 * self.state.global_step) % len(CANNED)]
            text = template.format(a=a, b=b, s=a + b)
            completions.append(self._tokenizer(text, add_special_tokens=False)["input_ids"] + [self.eos_token_ids[0]])
        return completions, None


def training_data(cli):
    if cli.guidance:
        return rationale_dataset(12, wrong=(1,), missing=(2,))
    if cli.self_teachers:  # prompts recur within the epoch, and only their own earlier answers can teach them
        return concatenate_datasets([arithmetic_dataset(3, no_teacher_rows=(0, 1, 2))] * 4)
    return arithmetic_dataset(12)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--per-device-batch", type=int, required=True)
    parser.add_argument("--canned", action="store_true")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--guidance", action="store_true", help="RGPO on, with hint-aware canned generation")
    parser.add_argument("--bonus", default="divergence", help="exploration_bonus: a name or a dotted path")
    parser.add_argument(
        "--self-teachers",
        type=int,
        default=0,
        help="self_teachers; the data: 3 prompts without teachers, 4 times each",
    )
    cli = parser.parse_args()

    tokenizer = build_tokenizer()
    args = OGERConfig(
        **base_config_kwargs(
            os.path.join(cli.out, "run"),
            os.path.join(cli.out, "cache"),
            per_device_train_batch_size=cli.per_device_batch,
            gradient_accumulation_steps=2,
            max_steps=cli.steps,
            num_offline_per_group=1,
            guidance=cli.guidance,
            num_guided_generations=2,
            exploration_bonus=cli.bonus,
            self_teachers=cli.self_teachers,
        )
    )
    trainer_class = hint_aware(recording_trainer_class()) if cli.guidance else CannedTrainer
    encoder = SentenceEncoder(max_length=128)  # built after the config: under ZeRO-3 it must still load whole
    trainer = trainer_class(
        build_model(tokenizer),
        reward_funcs=[accuracy_reward] if cli.guidance else [accuracy_reward, letter_reward],
        args=args,
        train_dataset=training_data(cli),
        processing_class=tokenizer,
        encoder=encoder,
    )
    trainer.canned = cli.canned and not cli.guidance
    trainer.train()
    if trainer.accelerator.is_main_process:
        result = {
            "world_size": trainer.accelerator.num_processes,
            "batches": trainer.batches,
            "losses": [h["loss"] for h in trainer.state.log_history if "loss" in h],
            "policy_partitioned": all(hasattr(p, "ds_id") for p in trainer.model.parameters()),
            "encoder_partitioned": any(hasattr(p, "ds_id") for p in encoder.model.parameters()),
            "probe_embeddings": encoder.encode(PROBE_TEXTS).tolist(),
        }
        with open(os.path.join(cli.out, "result.json"), "w") as f:
            json.dump(result, f)
    trainer.accelerator.wait_for_everyone()
    trainer.accelerator.end_training()
    exit_finished_multi_process_run()  # every result is written; see oger_trl.process_exit


if __name__ == "__main__":
    main()
