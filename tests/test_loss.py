"""OGER's loss is LUFFY's joint objective: TRL's on-policy term on online tokens, -A * p / (p + gamma) on teacher
tokens, one normaliser over both (DESIGN.md section 1, step 7). Checked in value and gradient against a hand-written
objective over an independent forward of the policy."""

import pytest
import torch
from helpers import arithmetic_dataset, independent_logps, joint_luffy_objective, make_trainer

from oger_trl import SampleSource

GAMMA = 0.1
GA = 2


def gradients(model, loss):
    model.zero_grad()
    loss.backward()
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dr_grpo", "dapo", "luspo"])
def test_loss_equals_the_joint_luffy_objective(tmp_path, tokenizer, encoder, loss_type):
    trainer = make_trainer(
        tmp_path,
        tokenizer,
        encoder,
        dataset=arithmetic_dataset(8, wrong_teacher=False),  # correct teachers: their advantage is never 0 here
        loss_type=loss_type,
        gradient_accumulation_steps=GA,
        off_policy_shaping_gamma=GAMMA,
        scale_rewards="none",
    )
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = GA
    trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
    teacher_rows_with_signal = 0
    for inputs in trainer._buffered_inputs:  # both micro-batches of the generation batch
        teacher = inputs["sample_source"] == SampleSource.TEACHER
        teacher_rows_with_signal += int((inputs["advantages"][teacher] != 0).sum())
        ours = trainer._compute_loss(trainer.model, inputs)
        ours_grad = gradients(trainer.model, ours)
        reference = joint_luffy_objective(independent_logps(trainer.model, inputs), inputs, loss_type, trainer, GAMMA)
        reference_grad = gradients(trainer.model, reference)
        assert ours.item() == pytest.approx(reference.item(), rel=1e-4, abs=1e-7)
        assert ours_grad.keys() == reference_grad.keys()
        for name in ours_grad:
            torch.testing.assert_close(ours_grad[name], reference_grad[name], rtol=1e-4, atol=1e-7)
    assert teacher_rows_with_signal > 0  # the shaping term was exercised, not multiplied by zero advantages


def shaping_reference(logps, inputs, loss_type: str, trainer) -> torch.Tensor:
    """The teacher term alone, -A p/(p+gamma) on teacher tokens, under the normaliser TRL gives `loss_type`: the
    per-sequence mean (sapo, like grpo) or the generation batch's token count (cispo and vespo, like dapo)."""
    a = inputs["advantages"].unsqueeze(1)
    teacher = (inputs["sample_source"] == SampleSource.TEACHER).unsqueeze(1)
    p = logps.exp()
    per_token = torch.where(teacher, -a * p / (p + GAMMA), torch.zeros_like(p)) * inputs["completion_mask"]
    if loss_type == "sapo":
        return (per_token.sum(-1) / inputs["completion_mask"].sum(-1)).mean() / GA
    return per_token.sum() / (inputs["num_items_in_batch"] * GA / trainer.args.steps_per_generation)


@pytest.mark.parametrize("loss_type", ["cispo", "sapo", "vespo"])
def test_other_loss_types_add_the_teacher_term_under_their_own_normaliser(tmp_path, tokenizer, encoder, loss_type):
    # TRL's online term differs per loss type (CISPO's clipped weights, SAPO's soft gate, VESPO's variance weights):
    # OGER keeps it as TRL computes it, so OGER's loss minus TRL's loss on the same batch with teacher advantages
    # zeroed must be exactly the teacher term, in value and gradient.
    from trl import GRPOTrainer

    trainer = make_trainer(
        tmp_path,
        tokenizer,
        encoder,
        dataset=arithmetic_dataset(8, wrong_teacher=False),
        loss_type=loss_type,
        gradient_accumulation_steps=GA,
        off_policy_shaping_gamma=GAMMA,
        scale_rewards="none",
    )
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = GA
    trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
    teacher_rows_with_signal = 0
    for inputs in trainer._buffered_inputs:
        teacher = inputs["sample_source"] == SampleSource.TEACHER
        teacher_rows_with_signal += int((inputs["advantages"][teacher] != 0).sum())
        online_only = {**inputs, "advantages": inputs["advantages"].masked_fill(teacher, 0.0)}
        difference = trainer._compute_loss(trainer.model, inputs) - GRPOTrainer._compute_loss(
            trainer, trainer.model, online_only
        )
        reference = shaping_reference(independent_logps(trainer.model, inputs), inputs, loss_type, trainer)
        assert difference.item() == pytest.approx(reference.item(), rel=1e-4, abs=1e-7)
        ours_grad, reference_grad = gradients(trainer.model, difference), gradients(trainer.model, reference)
        for name in reference_grad:
            torch.testing.assert_close(ours_grad[name], reference_grad[name], rtol=1e-4, atol=1e-7)
    assert teacher_rows_with_signal > 0
