"""LUFFY's policy-shaping term and TRL's per-loss_type normalisers."""

import pytest
import torch

from oger_trl.shaping import aggregate_like_trl, policy_shaping_loss


def test_shaping_value_is_minus_advantage_times_p_over_p_plus_gamma():
    logps = torch.log(torch.tensor([[0.3, 0.9], [0.01, 1.0]]))
    loss = policy_shaping_loss(logps, torch.tensor([2.0, -1.0]), gamma=0.1)
    expected = [[-2 * 0.3 / 0.4, -2 * 0.9 / 1.0], [1 * 0.01 / 0.11, 1 * 1.0 / 1.1]]
    assert loss.tolist() == [pytest.approx(row) for row in expected]
    token_level = policy_shaping_loss(logps, torch.tensor([[2.0, 1.0], [1.0, 1.0]]), gamma=0.1)
    assert token_level[0, 1].item() == pytest.approx(-0.9 / 1.0)


@pytest.mark.parametrize("p_target", [0.02, 0.3, 0.95])
def test_shaping_gradient_is_gamma_p_over_p_plus_gamma_squared_times_grad_log_p(p_target):
    torch.manual_seed(0)
    others = torch.rand(6, dtype=torch.float64)
    probs = torch.cat([others[:3], torch.zeros(1, dtype=torch.float64), others[3:]]) / others.sum() * (1 - p_target)
    probs[3] = p_target
    logits = probs.log()
    logits.requires_grad_(True)
    advantage, gamma = 1.7, 0.1
    logp = torch.log_softmax(logits, 0)[3]
    p = logp.exp().item()
    assert p == pytest.approx(p_target)
    (grad_shaping,) = torch.autograd.grad(
        policy_shaping_loss(logp.view(1, 1), torch.tensor([advantage], dtype=torch.float64), gamma).sum(), logits
    )
    (grad_logp,) = torch.autograd.grad(torch.log_softmax(logits, 0)[3], logits)
    expected = -advantage * gamma * p / (p + gamma) ** 2 * grad_logp
    torch.testing.assert_close(grad_shaping, expected)


PER_TOKEN = torch.tensor([[1.0, 2.0, 3.0, 0.0], [4.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
MASK = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 0, 0]], dtype=torch.float32)
COMMON = dict(max_completion_length=8, num_items_in_batch=torch.tensor(24.0), num_processes=2, steps_per_generation=2)


@pytest.mark.parametrize(
    ("loss_type", "training", "expected"),
    [
        ("grpo", True, ((6 / 3) + (4 / 1) + (2 / 2)) / 3 / 4),
        ("sapo", False, ((6 / 3) + (4 / 1) + (2 / 2)) / 3),
        ("bnpo", True, 12 / 6 / 4),
        ("dr_grpo", True, 12 / (3 * 8) / 4),
        ("dr_grpo", False, 12 / (3 * 8)),
        ("dapo", True, 12 / (24 / 2 * 4 / 2)),
        ("dapo", False, 12 / (24 / 2)),
        ("cispo", True, 12 / (24 / 2 * 4 / 2)),
        ("luspo", True, (6 + 4 + 2) / 3 / 4),
    ],
)
def test_aggregation_matches_trl_normalisers(loss_type, training, expected):
    got = aggregate_like_trl(PER_TOKEN, MASK, loss_type, gradient_accumulation_steps=4, training=training, **COMMON)
    assert got.item() == pytest.approx(expected)


def test_unknown_loss_type_raises():
    with pytest.raises(ValueError, match="Unknown loss type"):
        aggregate_like_trl(PER_TOKEN, MASK, "ppo", gradient_accumulation_steps=1, training=True, **COMMON)
