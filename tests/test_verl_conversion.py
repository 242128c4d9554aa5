"""The paper recipe's entropy coefficient, converted from verl: on the same tensors, TRL's loss with the converted
`entropy_coef` is verl's objective (written here from LUFFY's `mix_actor` and `compute_token_on_off_policy_loss`)
divided by the sequences per rank, in value and gradient, so every term keeps its relative weight."""

import pytest
import torch
from helpers import arithmetic_dataset, independent_logps, joint_luffy_objective, make_trainer

from oger_trl.verl_conversion import trl_entropy_coef, verl_micro_batches

VERL_ENTROPY_COEFF = 0.001
GA = 2


def independent_entropies(model, inputs) -> torch.Tensor:
    ids = torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], dim=1)
    attention = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], dim=1)
    c = inputs["completion_ids"].size(1)
    logits = model(input_ids=ids, attention_mask=attention).logits[:, -c - 1 : -1].float()
    return -(logits.softmax(-1) * logits.log_softmax(-1)).sum(-1)


def verl_objective(model, inputs, trainer, rows_per_micro_batch: int) -> torch.Tensor:
    """One verl micro-batch: sum_i sum_t M l / L (no token mean, no clip, p/(p+0.1) on teacher tokens) minus the
    unscaled entropy coefficient times the token mean of the entropy over all tokens, teacher tokens included."""
    luffy_dr_grpo = joint_luffy_objective(independent_logps(model, inputs), inputs, "dr_grpo", trainer)
    policy_gradient = luffy_dr_grpo * rows_per_micro_batch * GA  # undo TRL's 1 / (rows * GA), keep the 1 / L
    mask = inputs["completion_mask"].float()
    entropy = (independent_entropies(model, inputs) * mask).sum() / mask.sum()
    return policy_gradient - VERL_ENTROPY_COEFF * entropy


def gradients(model, loss):
    model.zero_grad()
    loss.backward()
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def test_trl_loss_with_the_converted_entropy_coef_is_verls_objective_over_the_sequences_per_rank(
    tmp_path, tokenizer, encoder
):
    rows = 4
    sequences_per_rank = rows * GA
    converted = trl_entropy_coef(VERL_ENTROPY_COEFF, sequences_per_rank, GA, 32, 32)  # K = G micro-batches
    assert converted == pytest.approx(VERL_ENTROPY_COEFF * GA / sequences_per_rank)
    trainer = make_trainer(
        tmp_path,
        tokenizer,
        encoder,
        dataset=arithmetic_dataset(8, wrong_teacher=False),
        loss_type="dr_grpo",
        scale_rewards="none",
        per_device_train_batch_size=rows,
        gradient_accumulation_steps=GA,
        entropy_coef=converted,
        max_completion_length=32,
    )
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = GA
    trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
    for inputs in trainer._buffered_inputs:
        ours = trainer._compute_loss(trainer.model, inputs) * sequences_per_rank
        ours_grad = gradients(trainer.model, ours)
        reference = verl_objective(trainer.model, inputs, trainer, rows)
        reference_grad = gradients(trainer.model, reference)
        assert ours.item() == pytest.approx(reference.item(), rel=1e-4, abs=1e-7)
        for name in ours_grad:
            torch.testing.assert_close(ours_grad[name], reference_grad[name], rtol=1e-4, atol=1e-7)


def test_the_unconverted_coefficient_overweights_the_entropy_by_sequences_over_micro_batches():
    # the paper recipe's geometry: 64 sequences per rank and optimizer step, 8192-token responses in both frameworks
    for k in (1, 4, 8):
        assert VERL_ENTROPY_COEFF / trl_entropy_coef(VERL_ENTROPY_COEFF, 64, k, 8192, 8192) == pytest.approx(64 / k)
    assert verl_micro_batches(64, 2048) == 4 and verl_micro_batches(64, 2049) == 5 and verl_micro_batches(1, 10) == 1
