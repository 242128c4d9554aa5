"""Held-out accuracy during training, judged by the verifiable reward the policy is trained on.

Every `every_steps` optimizer steps the policy answers every held-out problem greedily (batched) and the answers are
scored by the run's reward function, so "accuracy" means exactly what the training reward means (for `accuracy_reward`:
a correct answer in a form math-verify reads as LaTeX, e.g. `\\boxed{7}`). A lenient score (math-verify also reading a
bare final number, `oger_trl.math_answers.grade_math`) shows how much of a gain is the answer format.
"""

from collections.abc import Callable

from accelerate.utils import gather_object
from datasets import Dataset
from transformers import TrainerCallback

from ..evaluation.callback import policy_generator
from ..math_answers import grade_math

ACCURACY = "heldout/accuracy"
LENIENT_ACCURACY = "heldout/accuracy_lenient"


class HeldOutEvaluation(TrainerCallback):
    """Greedy held-out answers when training begins (step 0, unless `start` gives that result already) and every
    `every_steps` steps; `samples[step]` keeps each evaluation's answers, the metrics join the training log of that
    step. Step 0 is measured in `on_train_begin`, once the trainer has prepared the model, so that every evaluation
    runs under the same mixed precision."""

    def __init__(
        self,
        trainer,
        held_out: Dataset,
        reward_func: Callable,
        every_steps: int,
        max_new_tokens: int,
        start: tuple[dict[str, float], list[dict]] | None = None,
        batch_size: int = 64,
    ):
        self.trainer, self.held_out, self.reward_func = trainer, held_out, reward_func
        self.every_steps, self.max_new_tokens, self.batch_size = every_steps, max_new_tokens, batch_size
        self.samples: dict[int, list[dict]] = {0: start[1]} if start else {}
        self.start_metrics: dict[str, float] = start[0] if start else {}

    def on_train_begin(self, args, state, control, **kwargs):
        if not self.start_metrics:
            self.start_metrics = self.run()

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step % self.every_steps == 0 or state.global_step == state.max_steps:
            for name, value in self.run().items():
                self.trainer._metrics["train"][name].append(value)

    def run(self) -> dict[str, float]:
        """Answer and score the held-out problems (every process its share, gathered); returns the two accuracies."""
        trainer = self.trainer
        rank, world = trainer.accelerator.process_index, trainer.accelerator.num_processes
        rows = self.held_out.select(range(rank, len(self.held_out), world))
        tokenizer = trainer._tokenizer
        prompts = [
            tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=False) for p in rows["prompt"]
        ]
        texts = []
        with policy_generator(trainer) as generator:
            for start in range(0, len(prompts), self.batch_size):
                batch = prompts[start : start + self.batch_size]
                outputs = generator.generate(batch, 1, 0.0, 1.0, self.max_new_tokens)
                texts += [completions[0].text for completions in outputs]
        columns = {key: rows[key] for key in rows.column_names if key != "prompt"}
        rewards = self.reward_func(completions=[[{"role": "assistant", "content": t}] for t in texts], **columns)
        local = [
            {
                "question": prompt[-1]["content"],
                "answer": text,
                "solution": solution,
                "correct": bool(reward and reward > 0),
                "correct_lenient": grade_math(text, solution).correct,
            }
            for prompt, text, solution, reward in zip(rows["prompt"], texts, rows["solution"], rewards, strict=True)
        ]
        records = gather_object(local)
        self.samples[trainer.state.global_step] = records
        return {
            ACCURACY: sum(r["correct"] for r in records) / len(records),
            LENIENT_ACCURACY: sum(r["correct_lenient"] for r in records) / len(records),
        }
