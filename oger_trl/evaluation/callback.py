"""A small benchmark evaluation during training: every `every_steps` optimizer steps, the policy answers a slice of
each benchmark and `eval/<benchmark>/avg@k` joins the training metrics of that step."""

import contextlib
from collections.abc import Iterator

from accelerate.utils import gather_object
from transformers import TrainerCallback
from trl.models.utils import unwrap_model_for_generation

from .benchmarks import load_items
from .generation import TransformersBackend
from .metrics import summarize
from .runner import EvalSettings, answer_batches


class BenchmarkEvalCallback(TrainerCallback):
    """Evaluate `benchmarks` (names or `name=path`) on `limit` items each, `n` samples per item, every
    `every_steps` steps. Items are shared out across processes and the results gathered, so every process runs it."""

    def __init__(
        self,
        trainer,
        benchmarks: list[str],
        every_steps: int = 50,
        n: int = 1,
        limit: int = 64,
        temperature: float = 0.6,
        max_new_tokens: int = 1024,
        batch_size: int = 8,
    ):
        self.trainer, self.every_steps, self.n = trainer, every_steps, n
        self.settings = EvalSettings(
            n=n, temperature=temperature, max_new_tokens=max_new_tokens, batch_size=batch_size
        )
        self.benchmarks = [load_items(spec, limit) for spec in benchmarks]

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step % self.every_steps == 0:
            for name, value in self.run().items():
                self.trainer._metrics["train"][name].append(value)

    def run(self) -> dict[str, float]:
        trainer = self.trainer
        rank, world = trainer.accelerator.process_index, trainer.accelerator.num_processes
        records = []
        with policy_generator(trainer) as generator:
            for benchmark, items in self.benchmarks:
                for batch in answer_batches(generator, benchmark, items[rank::world], self.settings):
                    records += [record for item_records in batch for record in item_records]
        summary = summarize(gather_object(records), self.n, {b.name: b.domain for b, _ in self.benchmarks})
        return {f"eval/{name}/avg@{self.n}": m[f"avg@{self.n}"] for name, m in summary["benchmarks"].items()}


@contextlib.contextmanager
def policy_generator(trainer) -> Iterator[TransformersBackend]:
    """The trainer's policy, in eval mode, as a generation backend. Every process must enter it: it gathers the weights
    once (a collective under ZeRO-3) for everything generated inside; generation itself is local."""
    was_training = trainer.model.training
    trainer.model.eval()
    try:
        with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator) as model:
            yield TransformersBackend(model, trainer._tokenizer, trainer.eos_token_ids)
    finally:
        trainer.model.train(was_training)
