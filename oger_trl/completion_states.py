"""The policy's representation of each completion, read from forwards the trainer runs anyway: the mean, over the
completion's tokens, of the final-layer hidden state that produced each token (the decoder's output, which the LM head
reads).

While `transformers.generate` decodes, `DecodingStatesRecorder` reads it at every step; where generation hides it
(vLLM, continuous batching), `ForwardStatesRecorder` reads it during the no-grad forward over the finished batch that
also gives H_last (`decoding_entropy`). `StepAligned` keeps per-step values aligned with the
completion tokens for both decoding recorders (entropies and states).
"""

import contextlib
from collections.abc import Iterator

import torch


class StepAligned:
    """Per-step values of a generation, column t for completion token t, one row per sequence.

    The first call of a generation (the prefill, possibly in chunks) sees the whole prompt and yields the value for
    token 0; every later call decodes one token. A multi-token call after decoding started (no KV cache) would break
    that alignment: the recording is then discarded and `stacked()` returns None.
    """

    def __init__(self):
        self._steps: list[torch.Tensor] = []
        self._decoding = False
        self._aligned = True

    def _add(self, value: torch.Tensor, new_tokens: int) -> None:
        if new_tokens > 1:  # (a chunk of) the prefill: its last position predicts token 0
            self._aligned &= not self._decoding
            self._steps[:1] = [value]
        else:
            self._decoding = True
            self._steps.append(value)

    def stacked(self) -> torch.Tensor | None:
        """`(B, steps, ...)` float32 CPU tensor, or None when nothing aligned was recorded."""
        if not self._steps or not self._aligned:
            return None
        return torch.stack(self._steps, dim=1).float().cpu()


def _last_hidden_state(output) -> torch.Tensor:
    """The decoder's final (normalised) hidden states `(B, T, h)`: what the LM head reads."""
    return output.last_hidden_state if hasattr(output, "last_hidden_state") else output[0]


class DecoderReader:
    """Reads the decoder's output (`_record`) while attached to a causal LM: hooked on the decoder, not the LM head,
    because the head may be fused with the loss or skipped for positions whose logits are not kept."""

    def _record(self, module, args, output) -> None:
        raise NotImplementedError

    @contextlib.contextmanager
    def attached(self, model: torch.nn.Module) -> Iterator["DecoderReader"]:
        handle = model.get_decoder().register_forward_hook(self._record)
        try:
            yield self
        finally:
            handle.remove()


class DecodingStatesRecorder(StepAligned, DecoderReader):
    """The decoder's last hidden state at the position that produced each completion token, while `generate` decodes."""

    def _record(self, module, args, output) -> None:
        states = _last_hidden_state(output)
        self._add(states[:, -1].detach(), states.size(1))


class ForwardStatesRecorder(DecoderReader):
    """The decoder's last hidden states over the completion positions of full forwards (TRL's log-prob pass, micro-batch
    after micro-batch): positions -(C + 1) .. -2 produced completion tokens 0 .. C - 1."""

    def __init__(self, completion_length: int):
        self.completion_length = completion_length
        self._chunks: list[torch.Tensor] = []

    def _record(self, module, args, output) -> None:
        states = _last_hidden_state(output)
        self._chunks.append(states[:, -(self.completion_length + 1) : -1].detach().float().cpu())

    def stacked(self) -> torch.Tensor | None:
        """`(B, C, h)` float32 CPU tensor, or None when the decoder never ran."""
        return torch.cat(self._chunks) if self._chunks else None


def mean_completion_state(states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """`(B, h)`: the mean of `states[i, :lengths[i]]` (the states that produced row i's tokens); NaN for length 0.

    Args:
        states: `(B, S, h)` per-position states, S >= every length.
        lengths: `(B,)` completion lengths (0 for rows the policy did not sample).
    """
    positions = torch.arange(states.size(1)).unsqueeze(0)
    mask = (positions < lengths.unsqueeze(1)).unsqueeze(-1).to(states.dtype)
    sums = (states * mask).sum(1)
    return sums / lengths.unsqueeze(1).to(states.dtype)  # 0 / 0 = NaN for rows without a completion of their own
