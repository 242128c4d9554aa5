"""LUFFY's policy-shaping term for teacher tokens, normalised exactly like TRL's loss for each `loss_type`.

Teacher tokens were not sampled from the policy, so an importance ratio pi/pi_teacher is unavailable (and would vanish
for tokens the policy finds unlikely). LUFFY trains them with -A * f(p), f(p) = p / (p + gamma), p = pi(token): its
gradient -A * gamma * p / (p + gamma)^2 * grad log p keeps low-probability tokens learnable. No ratio, no clipping.
"""

import torch


def policy_shaping_loss(per_token_logps: torch.Tensor, advantages: torch.Tensor, gamma: float) -> torch.Tensor:
    """Per-token -A * p / (p + gamma), p = exp(log-prob under the current policy).

    Args:
        per_token_logps: `(B, C)` log-probabilities of the completion tokens, differentiable.
        advantages: `(B,)` sequence advantages or `(B, C)` token advantages.
        gamma: the shaping constant (LUFFY and OGER use 0.1).
    """
    if advantages.dim() == 1:
        advantages = advantages.unsqueeze(1)
    p = per_token_logps.exp()
    return -advantages * p / (p + gamma)


def aggregate_like_trl(
    per_token_loss: torch.Tensor,
    mask: torch.Tensor,
    loss_type: str,
    *,
    max_completion_length: int,
    num_items_in_batch: torch.Tensor,
    num_processes: int,
    gradient_accumulation_steps: int,
    steps_per_generation: int,
    training: bool,
) -> torch.Tensor:
    """Reduce a `(B, C)` per-token loss to the scalar TRL 1.16's `GRPOTrainer._compute_loss` would produce for it.

    Using TRL's own normaliser (over the full loss mask, teacher and online tokens alike) makes online loss + shaping
    term equal to LUFFY's joint objective sum_t [m l_off + (1 - m) l_on] / norm. In eval there is no accumulation.
    """
    ga = gradient_accumulation_steps if training else 1
    masked = per_token_loss * mask
    if loss_type in ("grpo", "sapo"):
        return (masked.sum(-1) / mask.sum(-1).clamp(min=1.0)).mean() / ga
    if loss_type == "bnpo":
        return masked.sum() / mask.sum().clamp(min=1.0) / ga
    if loss_type == "dr_grpo":
        return masked.sum() / (per_token_loss.size(0) * max_completion_length) / ga
    if loss_type in ("dapo", "cispo", "vespo"):
        # `num_items_in_batch` counts the loss tokens of the whole generation batch across processes
        normalizer = num_items_in_batch.clamp(min=1.0) / num_processes
        if training:
            normalizer = normalizer * gradient_accumulation_steps / steps_per_generation
        return masked.sum() / normalizer
    if loss_type == "luspo":
        return masked.sum(-1).mean() / ga
    raise ValueError(f"Unknown loss type {loss_type!r}")
