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


def _scripted_rollout(prompts: list[str], trainer) -> dict:
    """A `rollout_func` that answers each prompt with one of four fixed texts (by position): varied rewards, no sampling."""
    tokenizer = trainer.processing_class
    texts = ["abc def ghi", "12 + 3 = 15", "x1 y2 z3", "?!"]
    return {
        "prompt_ids": [tokenizer(p)["input_ids"] for p in prompts],
        "completion_ids": [
            tokenizer(texts[i % len(texts)])["input_ids"] + [tokenizer.eos_token_id] for i in range(len(prompts))
        ],
        "logprobs": None,
    }


def test_oger_off_with_a_rollout_func_trains_as_grpo(tmp_path, tokenizer, encoder):
    """With OGER off, a `rollout_func` (like tools and environments) is GRPO's to run: OGER leaves the rows alone."""
    settings = dict(max_steps=2, loss_type="dapo")
    dataset = arithmetic_dataset(8, conversational=False).remove_columns(["teacher_completions", "teacher_sources"])
    grpo_kwargs = base_config_kwargs(tmp_path / "grpo", tmp_path / "cache", **settings)
    grpo_kwargs.pop("teacher_cache_dir")
    grpo = GRPOTrainer(
        build_model(tokenizer),
        [letter_reward],
        GRPOConfig(**grpo_kwargs),
        dataset,
        processing_class=tokenizer,
        rollout_func=_scripted_rollout,
    )
    grpo.train()
    oger_args = OGERConfig(
        **base_config_kwargs(tmp_path / "oger", tmp_path / "cache", **settings),
        num_offline_per_group=0,
        exploration_coef=0.0,
    )
    oger = OGERTrainer(
        build_model(tokenizer),
        [letter_reward],
        oger_args,
        dataset,
        processing_class=tokenizer,
        rollout_func=_scripted_rollout,
        encoder=encoder,
    )
    oger.train()
    assert [h.get("loss") for h in oger.state.log_history] == [h.get("loss") for h in grpo.state.log_history]
    assert oger.state.log_history[0]["reward_std"] > 0  # the scripted texts earn different rewards: a real update
    assert oger.state.log_history[0]["rewards/oger_exploration/mean"] == 0.0
    for (name, p_grpo), (_, p_oger) in zip(grpo.model.named_parameters(), oger.model.named_parameters(), strict=True):
        assert torch.equal(p_grpo, p_oger), name
