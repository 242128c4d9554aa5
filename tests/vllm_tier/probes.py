"""Independent measurements of what the vLLM engine holds, for the vLLM tier: the engine's log-probs of a fixed
completion (its prompt log-probs, no sampling) against a plain transformers forward of the trainer's current weights."""

from dataclasses import dataclass, field

import torch
from helpers import make_trainer

from oger_trl import OGERTrainer

# The trainer computes in float32; vLLM serves a float32 checkpoint in bfloat16 ("auto" dtype downcasts it, on a GPU as
# on a CPU). bfloat16 keeps 8 significant bits (relative rounding 2^-8 = 0.4%), so logits of a few units are off by
# ~0.01 and the per-token log-probs by about as much: 0.02 nats per token on average bounds it for the tiny policy.
BF16_TOLERANCE = 0.02
# Two bfloat16 computations of SmolLM2 (30 layers) that order their roundings differently (decode steps vs one prefill,
# or engine vs trainer): 0.05 nats per token (measured for bf16 vs fp32 on this model: 0.05).
BF16_DEEP_TOLERANCE = 0.05


def vllm_trainer(tmp_path, tokenizer, encoder, model_dir: str, dataset, **overrides) -> OGERTrainer:
    """`make_trainer` over the checkpoint in `model_dir` (vLLM loads models by path), generating with TRL's colocated
    vLLM engine."""
    settings = dict(use_vllm=True, vllm_mode="colocate", vllm_max_model_length=256, **overrides)
    return make_trainer(tmp_path, tokenizer, encoder, dataset=dataset, model=model_dir, **settings)


def engine_logprobs(llm, prompt_ids: list[int], completion_ids: list[int]) -> torch.Tensor:
    """log p(completion token | prefix) under the weights the engine holds: vLLM's prompt log-probs of prompt +
    completion (temperature 1, nothing sampled that matters)."""
    from vllm import SamplingParams

    params = SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=1.0)
    (output,) = llm.generate([{"prompt_token_ids": prompt_ids + completion_ids}], params, use_tqdm=False)
    positions = range(len(prompt_ids), len(prompt_ids) + len(completion_ids))
    ids = prompt_ids + completion_ids
    return torch.tensor([output.prompt_logprobs[t][ids[t]].logprob for t in positions], dtype=torch.float64)


def policy_logprobs(model, prompt_ids: list[int], completion_ids: list[int], temperature: float = 1.0) -> torch.Tensor:
    """The same log-probs from a plain forward of `model` (no TRL code, no fused head)."""
    ids = torch.tensor([prompt_ids + completion_ids], device=model.device)
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, len(prompt_ids) - 1 : -1].double() / temperature
    return torch.log_softmax(logits, -1).gather(-1, torch.tensor(completion_ids, device=model.device)[:, None])[:, 0]


@dataclass
class SyncRecord:
    step: int
    engine_vs_policy: float  # mean |vLLM - trainer| log-prob per token: ~0 when the engine holds the trained weights
    policy_moved: float  # mean |trainer now - trainer at step 0|: what a never-synced engine would show
    moved_last_step: float  # mean |trainer now - trainer at the previous sync|: what a sync one step late would show


@dataclass
class WeightSyncProbe:
    """After each of TRL's own weight syncs (`vllm_generation.sync_weights`, called by TRL before generating at a new
    step), compares the engine's log-probs of a fixed completion with the trainer's under the weights just pushed."""

    trainer: OGERTrainer
    prompt_ids: list[int]
    completion_ids: list[int]
    records: list[SyncRecord] = field(default_factory=list)
    history: list[torch.Tensor] = field(default_factory=list)  # the trainer's log-probs at each sync

    def __post_init__(self):
        sync = self.trainer.vllm_generation.sync_weights

        def sync_then_measure():
            sync()
            self.measure()

        self.trainer.vllm_generation.sync_weights = sync_then_measure

    def measure(self) -> None:
        model = self.trainer.accelerator.unwrap_model(self.trainer.model)
        policy = policy_logprobs(model, self.prompt_ids, self.completion_ids)
        engine = engine_logprobs(self.trainer.vllm_generation.llm, self.prompt_ids, self.completion_ids)
        self.history.append(policy.cpu())
        self.records.append(
            SyncRecord(
                self.trainer.state.global_step,
                (engine - self.history[-1]).abs().mean().item(),
                (self.history[-1] - self.history[0]).abs().mean().item(),
                (self.history[-1] - self.history[max(0, len(self.history) - 2)]).abs().mean().item(),
            )
        )


def fixed_completion(tokenizer, question: str, answer: str) -> tuple[list[int], list[int]]:
    """Prompt ids of `question` as a chat turn and the ids of `answer` ending with EOS."""
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True)
    if not isinstance(prompt, list):
        prompt = prompt["input_ids"]
    return list(prompt), tokenizer(answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
