"""With splicing and the exploration reward off, OGERTrainer is GRPOTrainer: same losses, same parameter updates."""

import pytest
import torch
from helpers import arithmetic_dataset, base_config_kwargs, build_model, letter_reward
from trl import GRPOConfig, GRPOTrainer

from oger_trl import OGERConfig, OGERTrainer


@pytest.mark.parametrize("teacher_columns", [True, False], ids=["with_teacher_columns", "plain_grpo_dataset"])
def test_oger_off_reproduces_grpo_losses_and_updates(tmp_path, tokenizer, encoder, teacher_columns):
    settings = dict(max_steps=3, gradient_accumulation_steps=2, per_device_train_batch_size=4, loss_type="dapo")
    dataset = arithmetic_dataset(8)
    if not teacher_columns:  # a GRPO dataset as is: OGER switched off needs no teacher column
        dataset = dataset.remove_columns(["teacher_completions", "teacher_sources"])

    grpo_kwargs = base_config_kwargs(tmp_path / "grpo", tmp_path / "cache", **settings)
    grpo_kwargs.pop("teacher_cache_dir")
    grpo = GRPOTrainer(
        build_model(tokenizer), [letter_reward], GRPOConfig(**grpo_kwargs), dataset, processing_class=tokenizer
    )
    grpo.train()

    oger_args = OGERConfig(
        **base_config_kwargs(tmp_path / "oger", tmp_path / "cache", **settings),
        num_offline_per_group=0,
        exploration_coef=0.0,
    )
    oger = OGERTrainer(
        build_model(tokenizer), [letter_reward], oger_args, dataset, processing_class=tokenizer, encoder=encoder
    )
    oger.train()

    grpo_losses = [h["loss"] for h in grpo.state.log_history if "loss" in h]
    oger_losses = [h["loss"] for h in oger.state.log_history if "loss" in h]
    assert len(grpo_losses) == 3
    assert oger_losses == grpo_losses
    assert [h.get("reward") for h in oger.state.log_history] == [h.get("reward") for h in grpo.state.log_history]
    initial = build_model(tokenizer).state_dict()
    changed = 0
    for (name, p_grpo), (_, p_oger) in zip(grpo.model.named_parameters(), oger.model.named_parameters(), strict=True):
        assert torch.equal(p_grpo, p_oger), name
        changed += not torch.equal(p_grpo, initial[name])
    assert changed > 0  # the runs trained: identical updates, not identical no-ops
