"""Toy-scale evidence: GRPO vs LUFFY-style splicing vs OGER (with and without entropy modulation), several seeds.

Task: "What is a + b?" for digits a, b, answered in \\boxed{}; 70 problems train, 30 are held out. Policy: a tiny
random Qwen2 (tokenizer trained in-process) warmed up by a short SFT on the answer format with random answers, so it
writes `\\boxed{N}` but starts near chance. Teachers: two correct solution styles per problem. Each method trains from
the same warmed-up weights for the same number of steps; we report held-out greedy accuracy and the policy's mean token
entropy at the end, mean and standard deviation over seeds.

    python benchmarks/toy_ablation.py --seeds 0 1 2 --steps 120
"""

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time

import torch
from datasets import Dataset
from transformers.trainer_callback import PrinterCallback
from trl.rewards import accuracy_reward

from oger_trl import OGERConfig, OGERTrainer, SentenceEncoder
from oger_trl.evaluation.generation import TransformersBackend
from oger_trl.evaluation.grading import grade_math

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from helpers import build_model, build_tokenizer

METHODS = {
    "GRPO": dict(num_offline_per_group=0, exploration_coef=0.0),
    "LUFFY (random splice)": dict(num_offline_per_group=1, replacement_strategy="random", exploration_coef=0.0),
    "OGER": dict(num_offline_per_group=1, exploration_coef=1.0, entropy_modulation="exp_neg"),
    "OGER, g = 1": dict(num_offline_per_group=1, exploration_coef=1.0, entropy_modulation="none"),
}


def problems() -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    pairs = [(a, b) for a in range(10) for b in range(10)]
    random.Random(0).shuffle(pairs)
    return pairs[30:], pairs[:30]


def prompt(a: int, b: int) -> list[dict]:
    return [{"role": "user", "content": f"What is {a} + {b}?"}]


def teacher_dataset(pairs) -> Dataset:
    return Dataset.from_list(
        [
            {
                "prompt": prompt(a, b),
                "solution": str(a + b),
                "teacher_completions": [
                    f"We add {a} and {b} to get {a + b}. The answer is \\boxed{{{a + b}}}.",
                    f"{a} + {b} = {a + b}, so \\boxed{{{a + b}}}.",
                ],
                "teacher_sources": ["verbose", "terse"],
            }
            for a, b in pairs
        ]
    )


def warm_up(model, tokenizer, pairs, steps: int = 300, seed: int = 0) -> None:
    """SFT on the answer format with random answers: the policy learns to write `\\boxed{N}`, not to add."""
    rng = random.Random(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        batch = [rng.choice(pairs) for _ in range(16)]
        texts, prompt_lengths = [], []
        for a, b in batch:
            head = tokenizer.apply_chat_template(prompt(a, b), add_generation_prompt=True, tokenize=False)
            answer = f"The answer is \\boxed{{{rng.randint(0, 18)}}}.{tokenizer.eos_token}"
            texts.append(head + answer)
            prompt_lengths.append(len(tokenizer(head, add_special_tokens=False)["input_ids"]))
        encoded = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False, padding_side="right")
        labels = encoded["input_ids"].masked_fill(encoded["attention_mask"] == 0, -100)
        for row, length in enumerate(prompt_lengths):
            labels[row, :length] = -100
        loss = model(**encoded, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()


def held_out_accuracy(model, tokenizer, pairs) -> float:
    backend = TransformersBackend(model.eval(), tokenizer)
    prompts = [backend.render(prompt(a, b)[0]["content"]) for a, b in pairs]
    completions = backend.generate(prompts, n=1, temperature=0.0, top_p=1.0, max_new_tokens=24)
    model.train()
    return statistics.mean(
        grade_math(c[0].text, str(a + b)).correct for c, (a, b) in zip(completions, pairs, strict=True)
    )


def train(method: str, seed: int, warm_state: dict, tokenizer, encoder, data, steps: int, workdir: str):
    model = build_model(tokenizer, seed=0)
    model.load_state_dict(warm_state)
    args = OGERConfig(
        output_dir=os.path.join(workdir, f"{method}-{seed}"),
        teacher_cache_dir=os.path.join(workdir, "cache"),
        use_cpu=True,
        bf16=False,
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        disable_tqdm=True,
        gradient_checkpointing=False,
        disable_dropout=True,
        per_device_train_batch_size=16,
        num_generations=4,
        max_completion_length=24,
        max_steps=steps,
        learning_rate=5e-4,
        loss_type="dr_grpo",
        scale_rewards="none",
        beta=0.0,
        seed=seed,
        **METHODS[method],
    )
    trainer = OGERTrainer(model, [accuracy_reward], args, data, processing_class=tokenizer, encoder=encoder)
    trainer.remove_callback(PrinterCallback)  # one line per run, not per step
    trainer.train()
    entropies = [h["entropy"] for h in trainer.state.log_history if "entropy" in h][-10:]
    return trainer.model, statistics.mean(entropies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--output", default="toy_ablation.json")
    cli = parser.parse_args()

    start = time.time()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    tokenizer = build_tokenizer()
    encoder = SentenceEncoder(max_length=64)
    train_pairs, held_out = problems()
    data = teacher_dataset(train_pairs)
    workdir = tempfile.mkdtemp(prefix="oger-toy-")
    results = {method: {"accuracy": [], "entropy": []} for method in METHODS}
    starts = []
    for seed in cli.seeds:
        torch.manual_seed(seed)
        warm = build_model(tokenizer, seed=seed)
        warm_up(warm, tokenizer, train_pairs, seed=seed)
        starts.append(held_out_accuracy(warm, tokenizer, held_out))
        state = {k: v.clone() for k, v in warm.state_dict().items()}
        for method in METHODS:
            model, entropy = train(method, seed, state, tokenizer, encoder, data, cli.steps, workdir)
            accuracy = held_out_accuracy(model, tokenizer, held_out)
            results[method]["accuracy"].append(accuracy)
            results[method]["entropy"].append(entropy)
            print(f"seed {seed} {method:<22} held-out accuracy {accuracy:.3f}  entropy {entropy:.3f}", flush=True)

    def spread(values):
        return f"{statistics.mean(values):.3f} ± {statistics.stdev(values) if len(values) > 1 else 0.0:.3f}"

    print(f"\n{len(cli.seeds)} seeds x {cli.steps} steps; held-out accuracy after warm-up: {spread(starts)}")
    print("| method | held-out accuracy (greedy) | mean token entropy (nats, last 10 steps) |")
    print("|---|---|---|")
    for method, r in results.items():
        print(f"| {method} | {spread(r['accuracy'])} | {spread(r['entropy'])} |")
    print(f"\ntotal time {time.time() - start:.0f} s")
    with open(cli.output, "w") as f:
        json.dump({"seeds": cli.seeds, "steps": cli.steps, "start_accuracy": starts, "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
