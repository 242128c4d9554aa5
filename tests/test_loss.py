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
