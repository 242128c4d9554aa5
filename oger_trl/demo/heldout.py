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
from ..evaluation.metrics import distinct_correct, mean_pass_at_k
from ..math_answers import grade_math

ACCURACY = "heldout/accuracy"
LENIENT_ACCURACY = "heldout/accuracy_lenient"
PASS_AT_KS = (1, 4, 16)  # the representation-bonus paper's claim is about pass@k
DISTINCT_CORRECT = "heldout/distinct_correct"  # different correct sampled answers per problem, mean over problems


def pass_at_k_key(k: int) -> str:
    return f"heldout/pass@{k}"


class HeldOutEvaluation(TrainerCallback):
    """Greedy held-out answers when training begins (step 0, unless `start` gives that result already) and every
    `every_steps` steps; `samples[step]` keeps each evaluation's answers, the metrics join the training log of that
    step. Step 0 is measured in `on_train_begin`, once the trainer has prepared the model, so that every evaluation
    runs under the same mixed precision. With `pass_at_k_samples` = n > 0, the last step also samples n answers per
    problem (at `temperature`) and logs the unbiased pass@k for k in `PASS_AT_KS` up to n and the mean number of
    different correct answers per problem (`DISTINCT_CORRECT`)."""

    def __init__(
        self,
        trainer,
        held_out: Dataset,
        reward_func: Callable,
        every_steps: int,
        max_new_tokens: int,
        start: tuple[dict[str, float], list[dict]] | None = None,
        batch_size: int = 64,
        pass_at_k_samples: int = 0,
        temperature: float = 1.0,
    ):
        self.trainer, self.held_out, self.reward_func = trainer, held_out, reward_func
        self.every_steps, self.max_new_tokens, self.batch_size = every_steps, max_new_tokens, batch_size
        self.samples: dict[int, list[dict]] = {0: start[1]} if start else {}
        self.start_metrics: dict[str, float] = start[0] if start else {}
        self.pass_at_k_samples, self.temperature = pass_at_k_samples, temperature

    def on_train_begin(self, args, state, control, **kwargs):
        if not self.start_metrics:
            self.start_metrics = self.run()

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step % self.every_steps == 0 or state.global_step == state.max_steps:
            metrics = self.run()
            if self.pass_at_k_samples and state.global_step == state.max_steps:
                metrics.update(self.sampled_pass_at_k())
            for name, value in metrics.items():
                self.trainer._metrics["train"][name].append(value)

    def sampled_pass_at_k(self) -> dict[str, float]:
        """pass@k over the held-out problems from n sampled answers each, scored by the run's reward, and the mean
        number of different correct answers per problem (collective)."""
        n = self.pass_at_k_samples
        _, prompts, columns = self._local_share()
        texts = self._generate(prompts, n, self.temperature, max(1, self.batch_size // n))
        completions = [[{"role": "assistant", "content": t}] for t in texts]
        repeated = {key: [v for v in values for _ in range(n)] for key, values in columns.items()}
        right = [bool(r and r > 0) for r in self.reward_func(completions=completions, **repeated)]
        problems = [(texts[i * n : (i + 1) * n], right[i * n : (i + 1) * n]) for i in range(len(prompts))]
        counts = gather_object([sum(flags) for _, flags in problems])
        distinct = gather_object([distinct_correct(answers, flags) for answers, flags in problems])
        metrics = {pass_at_k_key(k): mean_pass_at_k(counts, [n] * len(counts), k) for k in PASS_AT_KS if k <= n}
        return {**metrics, DISTINCT_CORRECT: sum(distinct) / len(distinct)}

    def run(self) -> dict[str, float]:
        """Answer and score the held-out problems (every process its share, gathered); returns the two accuracies."""
        rows, prompts, columns = self._local_share()
        texts = self._generate(prompts, 1, 0.0, self.batch_size)
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
        self.samples[self.trainer.state.global_step] = records
        return {
            ACCURACY: sum(r["correct"] for r in records) / len(records),
            LENIENT_ACCURACY: sum(r["correct_lenient"] for r in records) / len(records),
        }

    def _local_share(self) -> tuple[Dataset, list[str], dict[str, list]]:
        """This process's share of the held-out problems: the rows, their chat-templated prompts, the other columns."""
        accelerator = self.trainer.accelerator
        rows = self.held_out.select(range(accelerator.process_index, len(self.held_out), accelerator.num_processes))
        tokenizer = self.trainer._tokenizer
        prompts = [
            tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=False) for p in rows["prompt"]
        ]
        return rows, prompts, {key: rows[key] for key in rows.column_names if key != "prompt"}

    def _generate(self, prompts: list[str], n: int, temperature: float, prompts_per_call: int) -> list[str]:
        """n answers per prompt (prompt-major), `prompts_per_call` prompts per generate call."""
        texts = []
        with policy_generator(self.trainer) as generator:
            for start in range(0, len(prompts), prompts_per_call):
                outputs = generator.generate(
                    prompts[start : start + prompts_per_call], n, temperature, 1.0, self.max_new_tokens
                )
                texts += [completion.text for completions in outputs for completion in completions]
        return texts
