"""OGER with LoRA (the single-GPU Colab setting): only adapter weights train, and both H_last and the shaping term are
those of the adapted policy, not of the frozen base."""

import pytest
import torch
from helpers import (
    arithmetic_dataset,
    independent_logps,
    joint_luffy_objective,
    make_trainer,
    record_online_generation,
    reference_last_entropy,
)
from peft import LoraConfig

from oger_trl import SampleSource


@pytest.fixture
def lora_trainer(tmp_path, tokenizer, encoder):
    # Random (not zero) LoRA B matrices: the adapted policy differs from the base from the first step
    config = LoraConfig(r=4, lora_alpha=256, target_modules="all-linear", init_lora_weights=False)
    return make_trainer(
        tmp_path,
        tokenizer,
        encoder,
        dataset=arithmetic_dataset(8, wrong_teacher=False),
        peft_config=config,
        gradient_accumulation_steps=2,
        loss_type="dapo",
    )


def test_only_adapter_weights_train(lora_trainer):
    before = {n: p.detach().clone() for n, p in lora_trainer.model.named_parameters()}
    trainable = [n for n, p in lora_trainer.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    lora_trainer.train()
    for name, p in lora_trainer.model.named_parameters():
        assert torch.equal(p, before[name]) != ("lora_" in name), name  # adapters moved, base weights did not


def test_last_token_entropy_is_the_adapted_policys(lora_trainer):
    lora_trainer.model.train()
    rows = next(iter(lora_trainer.get_train_dataloader()))
    recorded, _ = record_online_generation(lora_trainer, rows)
    logged = lora_trainer._logs["extra"]["entropy_last"]
    model = lora_trainer.model
    checked = 0
    for i, source in enumerate(lora_trainer._logs["extra"]["source"]):
        if source != "policy":
            continue
        args = (recorded["prompt_ids"][i], recorded["completion_ids"][i])
        with model.disable_adapter():
            base = reference_last_entropy(model, *args)
        adapted = reference_last_entropy(model, *args)
        assert logged[i] == pytest.approx(adapted, abs=1e-4)
        checked += abs(adapted - base) > 1e-3  # the check can tell the two policies apart
    assert checked > 0


def shaping_reference(logps, inputs, trainer, gamma=0.1) -> float:
    """The dapo-normalised teacher term alone, from the definition."""
    a = inputs["advantages"].unsqueeze(1)
    teacher = (inputs["sample_source"] == SampleSource.TEACHER).unsqueeze(1).float()
    p = logps.exp()
    total = (-a * p / (p + gamma) * teacher * inputs["completion_mask"]).sum()
    ga = trainer.args.gradient_accumulation_steps
    return (total / (inputs["num_items_in_batch"] * ga / trainer.args.steps_per_generation)).item()


def test_shaping_term_uses_the_adapted_policy(lora_trainer):
    trainer = lora_trainer
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 2
    trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
    compared = 0
    for inputs in trainer._buffered_inputs:
        ours = trainer._compute_loss(trainer.model, inputs).item()
        shaping = trainer._metrics["train"]["oger/shaping_loss"][-1]
        with torch.no_grad():
            adapted_logps = independent_logps(trainer.model, inputs)
            with trainer.model.disable_adapter():
                base_logps = independent_logps(trainer.model, inputs)
        assert ours == pytest.approx(
            joint_luffy_objective(adapted_logps, inputs, "dapo", trainer).item(), rel=1e-4, abs=1e-7
        )
        assert shaping == pytest.approx(shaping_reference(adapted_logps, inputs, trainer), rel=1e-4, abs=1e-8)
        if shaping != 0:
            base = shaping_reference(base_logps, inputs, trainer)
            assert abs(base - shaping) > 1e-3 * abs(shaping)  # 10x the tolerance: the base policy gives another term
            compared += 1
    assert compared > 0


def test_a_reference_pass_is_never_taken_for_the_policys_entropy(tmp_path, tokenizer, encoder):
    # Continuous batching hides the decoding logits, and with gradient_accumulation_steps a multiple of
    # steps_per_generation TRL runs no old-log-prob pass: the first no-grad forward over the batch is TRL's reference
    # pass (beta > 0), the PEFT model with its adapter disabled. H_last must still be the adapted policy's.
    config = LoraConfig(r=4, lora_alpha=256, target_modules="all-linear", init_lora_weights=False)
    trainer = make_trainer(
        tmp_path,
        tokenizer,
        encoder,
        dataset=arithmetic_dataset(8, wrong_teacher=False),
        peft_config=config,
        beta=0.1,
        gradient_accumulation_steps=2,
        use_transformers_continuous_batching=True,
    )
    test_last_token_entropy_is_the_adapted_policys(trainer)
