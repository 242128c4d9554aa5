"""One training run of the demo and the learning study: a method (OGER, GRPO, LUFFY-style, ablations) trained on a
task from the shared starting weights, with held-out accuracy measured along the way.

Every method is `OGERTrainer` with different OGER fields, so all runs log the same diagnostics, and with the same
seed they share the starting weights, the data order and the sampling stream up to the first difference in method.
"""

import os
import time
import warnings
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm
from transformers import AutoTokenizer, TrainerCallback
from transformers.trainer_callback import ProgressCallback
from trl.rewards import accuracy_reward

from ..config import OGERConfig
from ..encoder import SentenceEncoder
from ..trainer import OGERTrainer
from .heldout import ACCURACY, HeldOutEvaluation
from .settings import METHODS, RunSettings
from .summary import ONLINE_REWARD
from .tasks import DemoTask


@dataclass
class RunResult:
    method: str
    seed: int
    history: list[dict]  # trainer.state.log_history, with the step-0 held-out accuracy as its first entry
    samples: dict[int, list[dict]]  # held-out answers per evaluated step
    seconds: float
    trainer: OGERTrainer | None = field(default=None, repr=False)


def demo_config(method: str, settings: RunSettings, seed: int, output_dir: str, cache_dir: str) -> OGERConfig:
    """The paper's loss settings (Dr. GRPO normalisation, no reward scaling, no KL) at demo scale."""
    on_gpu = torch.cuda.is_available()
    return OGERConfig(
        output_dir=output_dir,
        teacher_cache_dir=cache_dir,
        use_cpu=not on_gpu,
        bf16=True,  # autocast: fp32 master weights; on a CPU with AVX512-BF16 it halves the step time
        report_to="none",
        save_strategy="no",
        logging_steps=1,
        log_completions=True,
        num_completions_to_print=0,
        activation_checkpointing=False,
        disable_dropout=True,
        per_device_train_batch_size=settings.prompts_per_step * settings.num_generations,
        num_generations=settings.num_generations,
        max_completion_length=settings.completion_length,
        max_steps=settings.steps,
        learning_rate=settings.learning_rate,
        temperature=settings.temperature,
        loss_type="dr_grpo",
        scale_rewards="none",
        beta=0.0,
        seed=seed,
        encoder_max_length=settings.encoder_max_length,
        use_vllm=settings.use_vllm,
        vllm_mode="colocate",
        **METHODS[method],
    )


def train_run(
    method: str,
    task: DemoTask,
    settings: RunSettings,
    seed: int,
    model_path: str,
    encoder: SentenceEncoder,
    output_dir: str,
    start: tuple[dict[str, float], list[dict]] | None = None,
    pass_at_k_samples: int = 0,
) -> RunResult:
    """Train `method` from `model_path`. `start` is the held-out result of the shared starting weights (metrics and
    answers): greedy answers of the same weights do not depend on the method or seed, so it is measured once, at the
    start of the first run (under the same precision as every later evaluation), and passed to the others.
    `pass_at_k_samples` > 0 adds the held-out pass@k of the final policy (`HeldOutEvaluation`)."""
    began = time.perf_counter()
    # TRL 1.16 reads a property transformers 5 deprecated, once per generation: not actionable for a demo user
    warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
    args = demo_config(method, settings, seed, output_dir, os.path.join(os.path.dirname(output_dir), "teacher_cache"))
    trainer = OGERTrainer(
        model_path,
        [accuracy_reward],
        args,
        task.train,
        processing_class=AutoTokenizer.from_pretrained(model_path),
        encoder=encoder,
    )
    held_out = HeldOutEvaluation(
        trainer,
        task.held_out,
        accuracy_reward,
        settings.eval_every,
        settings.completion_length,
        start,
        pass_at_k_samples=pass_at_k_samples,
        temperature=settings.temperature,
    )
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(held_out)
    trainer.add_callback(RunProgress(f"{method} (seed {seed})", settings.steps))
    trainer.train()
    history = [{"step": 0, **held_out.start_metrics}, *trainer.state.log_history]
    return RunResult(method, seed, history, held_out.samples, time.perf_counter() - began, trainer)


def release_engine(trainer: OGERTrainer) -> None:
    """Free a run's colocated vLLM engine and the process-wide distributed state vLLM keeps for it (its own teardown),
    so that the next run in this process can build its engine."""
    if trainer.use_vllm and trainer.args.vllm_mode == "colocate":
        from vllm.distributed.parallel_state import cleanup_dist_env_and_memory

        del trainer.vllm_generation.llm
        cleanup_dist_env_and_memory()


class RunProgress(TrainerCallback):
    """One progress bar per run, showing the online reward and the latest held-out accuracy (instead of TRL's
    per-step dictionary of every metric)."""

    def __init__(self, description: str, steps: int):
        self.description, self.steps, self.bar, self.postfix = description, steps, None, {}

    def on_train_begin(self, args, state, control, **kwargs):
        self.bar = tqdm(total=self.steps, desc=self.description, unit="step", dynamic_ncols=True)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if logs.get(ONLINE_REWARD) is not None:
            self.postfix["online reward"] = f"{logs[ONLINE_REWARD]:.2f}"
        if logs.get(ACCURACY) is not None:
            self.postfix["held-out acc"] = f"{logs[ACCURACY]:.2f}"
        self.bar.set_postfix(self.postfix, refresh=False)
        self.bar.update(state.global_step - self.bar.n)

    def on_train_end(self, args, state, control, **kwargs):
        self.bar.close()
