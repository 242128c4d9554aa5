"""The policy's last-token entropy H_last, from the cheapest source that has it.

`transformers.generate` computes the next-token logits of every row at every step and keeps only the sampled token.
A forward hook on the decoding model reads those logits as they pass (`DecodingEntropyRecorder`), so the entropy of
the distribution that produced each completion token, the quantity a no-grad forward over the finished batch would
give, costs a softmax per step. Where generation hides the logits (vLLM, continuous batching), TRL's own no-grad pass
over the batch may give them; otherwise `LastTokenEntropy` runs one no-grad forward on every process.
"""

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch.distributions import Categorical

from .completion_states import StepAligned
from .exploration import last_token_entropy


class DecodingEntropyRecorder(StepAligned):
    """Column t of `entropies()` is the entropy (nats) of softmax(logits / temperature) that produced completion token
    t, one row per sequence of the batch being generated (alignment: `StepAligned`)."""

    def __init__(self, temperature: float):
        super().__init__()
        self.temperature = temperature

    def _record(self, module, args, kwargs, output) -> None:
        input_ids = kwargs.get("input_ids", args[0] if args else None)
        new_tokens = 1 if input_ids is None else input_ids.size(1)
        self._add(Categorical(logits=output.logits[:, -1].float() / self.temperature).entropy(), new_tokens)

    @contextlib.contextmanager
    def attached(self, model: torch.nn.Module) -> Iterator["DecodingEntropyRecorder"]:
        handle = model.register_forward_hook(self._record, with_kwargs=True)
        try:
            yield self
        finally:
            handle.remove()

    def entropies(self) -> torch.Tensor | None:
        """`(B, steps)` float32 CPU tensor, or None when nothing aligned was recorded."""
        return self.stacked()


class LastTokenEntropy:
    """H_last of the online rows of a batch, given the per-token entropies some pass recorded (or None).

    Args:
        eos_token_ids: the ids that end a completion.
        mask_truncated: TRL's `mask_truncated_completions`: truncated rows leave attention and loss, so they get NaN.
        forward: `(prompt_ids, completion_ids) -> (B, >= C)` entropies of the policy, one no-grad forward (collective).
        any_process: whether a flag is set on any process (collective), so that all run the forward or none does.
    """

    def __init__(
        self,
        eos_token_ids: list[int],
        mask_truncated: bool,
        forward: Callable[[list[list[int]], list[list[int]]], torch.Tensor],
        any_process: Callable[[bool], bool],
    ):
        self.eos_token_ids, self.mask_truncated = eos_token_ids, mask_truncated
        self.forward, self.any_process = forward, any_process

    def of_rows(
        self,
        entropies: torch.Tensor | None,
        is_policy: torch.Tensor,
        prompt_ids: list[list[int]],
        completion_ids: list[list[int]],
    ) -> torch.Tensor:
        """`(B,)` H_last, NaN for the rows the policy did not sample (teacher, guided) and for truncated ones when
        TRL masks them."""
        lengths = torch.tensor([len(ids) for ids in completion_ids])
        policy_lengths = lengths[is_policy]  # spliced and guided rows need no entropy
        missing = entropies is None or (policy_lengths.numel() > 0 and entropies.size(1) < policy_lengths.max())
        if self.any_process(missing):
            entropies = self.forward(prompt_ids, completion_ids)
        # spliced and guided rows get length 0, hence NaN: they may be longer than anything the policy decoded
        h_last = last_token_entropy(entropies, lengths.masked_fill(~is_policy, 0)).cpu()
        if self.mask_truncated:
            truncated = torch.tensor([ids[-1] not in self.eos_token_ids for ids in completion_ids])
            h_last = h_last.masked_fill(truncated, float("nan"))
        return h_last
