"""Per-step entropies of the policy, recorded while it decodes: H_last without an extra forward.

`transformers.generate` computes the next-token logits of every row at every step and keeps only the sampled token.
A forward hook on the decoding model reads those logits as they pass, so the entropy of the distribution that produced
each completion token, the quantity a no-grad forward over the finished batch would give, costs a softmax per step.
"""

import contextlib
from collections.abc import Iterator

import torch
from torch.distributions import Categorical


class DecodingEntropyRecorder:
    """Column t of `entropies()` is the entropy (nats) of softmax(logits / temperature) that produced completion token
    t, one row per sequence of the batch being generated.

    The first call of a generation (the prefill, possibly in chunks) sees the whole prompt and yields the distribution
    of token 0; every later call decodes one token. A multi-token call after decoding started (no KV cache) would
    break that alignment: the recording is then discarded and `entropies()` returns None.
    """

    def __init__(self, temperature: float):
        self.temperature = temperature
        self._steps: list[torch.Tensor] = []
        self._decoding = False
        self._aligned = True

    def _record(self, module, args, kwargs, output) -> None:
        input_ids = kwargs.get("input_ids", args[0] if args else None)
        new_tokens = 1 if input_ids is None else input_ids.size(1)
        entropy = Categorical(logits=output.logits[:, -1].float() / self.temperature).entropy()
        if new_tokens > 1:  # (a chunk of) the prefill: its last position predicts token 0
            self._aligned &= not self._decoding
            self._steps[:1] = [entropy]
        else:
            self._decoding = True
            self._steps.append(entropy)

    @contextlib.contextmanager
    def attached(self, model: torch.nn.Module) -> Iterator["DecodingEntropyRecorder"]:
        handle = model.register_forward_hook(self._record, with_kwargs=True)
        try:
            yield self
        finally:
            handle.remove()

    def entropies(self) -> torch.Tensor | None:
        """`(B, steps)` float32 CPU tensor, or None when nothing aligned was recorded."""
        if not self._steps or not self._aligned:
            return None
        return torch.stack(self._steps, dim=1).cpu()
