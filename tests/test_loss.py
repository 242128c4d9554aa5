"""OGER's loss is LUFFY's joint objective: TRL's on-policy term on online tokens, -A * p / (p + gamma) on teacher
tokens, one normaliser over both (DESIGN.md section 1, step 7). Checked in value and gradient against a hand-written
objective over an independent forward of the policy."""

import pytest
import torch
from helpers import arithmetic_dataset, make_trainer

from oger_trl import SampleSource

GAMMA = 0.1
GA = 2


def independent_logps(model, inputs, temperature):
    ids = torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], dim=1)
    attention = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], dim=1)
    c = inputs["completion_ids"].size(1)
    logits = model(input_ids=ids, attention_mask=attention).logits[:, -c - 1 : -1] / temperature
    return torch.log_softmax(logits.float(), -1).gather(-1, inputs["completion_ids"].unsqueeze(-1)).squeeze(-1)


def joint_luffy_objective(logps, inputs, loss_type, trainer):
    """sum_t [m * (-A p/(p+gamma)) + (1 - m) * (-A * ratio)] / norm, ratio = pi/pi_old = 1 in value (on-policy)."""
    a = inputs["advantages"].unsqueeze(1)
    teacher = (inputs["sample_source"] == SampleSource.TEACHER).unsqueeze(1)
    p = logps.exp()
    ratio = torch.exp(logps - logps.detach())
    per_token = torch.where(teacher, -a * p / (p + GAMMA), -a * ratio)
    mask = inputs["completion_mask"].float()
    total = (per_token * mask).sum()
    if loss_type == "grpo":
        return ((per_token * mask).sum(-1) / mask.sum(-1)).mean() / GA
    if loss_type == "bnpo":
        return total / mask.sum() / GA
    if loss_type == "dr_grpo":
        return total / (mask.size(0) * trainer.max_completion_length) / GA
    if loss_type == "dapo":  # global token count of the generation batch, one process, GA micro-batches of it
        return total / (inputs["num_items_in_batch"] * GA / trainer.args.steps_per_generation)
    if loss_type == "luspo":
        return (per_token * mask).sum(-1).mean() / GA
    raise AssertionError(loss_type)


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
        reference = joint_luffy_objective(independent_logps(trainer.model, inputs, 1.0), inputs, loss_type, trainer)
        reference_grad = gradients(trainer.model, reference)
        assert ours.item() == pytest.approx(reference.item(), rel=1e-4, abs=1e-7)
        assert ours_grad.keys() == reference_grad.keys()
        for name in ours_grad:
            torch.testing.assert_close(ours_grad[name], reference_grad[name], rtol=1e-4, atol=1e-7)
    assert teacher_rows_with_signal > 0  # the shaping term was exercised, not multiplied by zero advantages
