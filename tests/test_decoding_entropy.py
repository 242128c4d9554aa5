"""Entropies recorded while decoding line up with completion tokens: column t is the distribution of token t."""

from types import SimpleNamespace

import pytest
import torch

from oger_trl.decoding_entropy import DecodingEntropyRecorder


class LogitsOf(torch.nn.Module):
    """A stand-in decoder whose next-token logits at each call are given in advance."""

    def __init__(self, logits: list[torch.Tensor]):
        super().__init__()
        self.queue = list(logits)

    def forward(self, input_ids=None, **kwargs):
        return SimpleNamespace(logits=self.queue.pop(0).unsqueeze(1).expand(-1, input_ids.size(1), -1))


def entropy(logits, temperature):
    p = torch.softmax(logits / temperature, -1)
    return -(p * p.log()).sum(-1)


def test_prefill_then_one_call_per_token():
    torch.manual_seed(0)
    steps = [torch.randn(2, 7) for _ in range(5)]
    model, recorder = LogitsOf(steps), DecodingEntropyRecorder(temperature=0.7)
    with recorder.attached(model):
        model(input_ids=torch.zeros(2, 5, dtype=torch.long))  # prefill in two chunks: the last one predicts token 0
        model(input_ids=torch.zeros(2, 3, dtype=torch.long))
        model(input_ids=torch.zeros(2, 1, dtype=torch.long))
        model(input_ids=torch.zeros(2, 1, dtype=torch.long))
    model(input_ids=torch.zeros(2, 1, dtype=torch.long))  # detached: not recorded
    expected = torch.stack([entropy(s, 0.7) for s in steps[1:4]], dim=1)
    torch.testing.assert_close(recorder.entropies(), expected)


def test_a_multi_token_call_after_decoding_started_discards_the_recording():
    model, recorder = LogitsOf([torch.randn(1, 5) for _ in range(3)]), DecodingEntropyRecorder(temperature=1.0)
    with recorder.attached(model):
        model(input_ids=torch.zeros(1, 4, dtype=torch.long))
        model(input_ids=torch.zeros(1, 1, dtype=torch.long))
        model(input_ids=torch.zeros(1, 6, dtype=torch.long))  # no KV cache: positions no longer line up
    assert recorder.entropies() is None
    assert DecodingEntropyRecorder(temperature=1.0).entropies() is None


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_uniform_logits_have_log_vocab_entropy(temperature):
    model, recorder = LogitsOf([torch.zeros(3, 11)]), DecodingEntropyRecorder(temperature)
    with recorder.attached(model):
        model(input_ids=torch.zeros(3, 2, dtype=torch.long))
    torch.testing.assert_close(recorder.entropies(), torch.full((3, 1), torch.log(torch.tensor(11.0)).item()))


def test_last_token_entropy_uses_the_recording_and_forwards_only_when_some_process_lacks_it():
    from oger_trl.decoding_entropy import LastTokenEntropy

    recorded = torch.tensor([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]])
    completions = [[5, 6, 2], [5, 2], [5, 6, 7]]  # eos = 2: the last row was truncated
    is_policy = torch.tensor([True, True, False])  # the last row is a teacher's
    forwards = []

    def forward(prompt_ids, completion_ids):
        forwards.append(len(completion_ids))
        return recorded + 1.0

    for elsewhere_missing, expected in ((False, [0.3, 0.5]), (True, [1.3, 1.5])):
        h = LastTokenEntropy([2], True, forward, any_process=lambda flag, e=elsewhere_missing: flag or e)
        got = h.of_rows(recorded, is_policy, [[1]] * 3, completions)
        torch.testing.assert_close(got[:2], torch.tensor(expected))
        assert torch.isnan(got[2])  # not sampled by the policy (and truncated)
    assert forwards == [3]  # the forward ran once: when another process lacked the recording
    short = LastTokenEntropy([2], False, forward, any_process=lambda flag: flag)
    torch.testing.assert_close(
        short.of_rows(recorded[:, :1], is_policy, [[1]] * 3, completions)[:2], torch.tensor([1.3, 1.5])
    )
