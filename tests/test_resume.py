"""Nothing is lost on interruption: a run resumed from a checkpoint makes the same splice decisions, rewards and losses
as the run that was never interrupted, and reuses the teacher-embedding cache."""

import pytest
from helpers import arithmetic_dataset, base_config_kwargs, build_model, letter_reward, recording_trainer_class
from trl.rewards import accuracy_reward

from oger_trl import OGERConfig


def trainer_for(tmp_path, tokenizer, encoder, output_dir):
    args = OGERConfig(
        **base_config_kwargs(
            output_dir,
            tmp_path / "cache",
            max_steps=4,
            gradient_accumulation_steps=2,
            save_strategy="steps",
            save_steps=2,
        )
    )
    return recording_trainer_class()(
        build_model(tokenizer),
        reward_funcs=[accuracy_reward, letter_reward],
        args=args,
        train_dataset=arithmetic_dataset(8),
        processing_class=tokenizer,
        encoder=encoder,
    )


def test_resumed_run_continues_exactly(tmp_path, tokenizer, encoder):
    uninterrupted = trainer_for(tmp_path, tokenizer, encoder, tmp_path / "full")
    uninterrupted.train()
    full_losses = [h["loss"] for h in uninterrupted.state.log_history if "loss" in h]

    encoded = encoder.num_texts_encoded
    resumed = trainer_for(tmp_path, tokenizer, encoder, tmp_path / "full")  # the folder holding checkpoint-2
    assert encoder.num_texts_encoded == encoded  # teacher embeddings come from the cache
    resumed.train(resume_from_checkpoint=str(tmp_path / "full" / "checkpoint-2"))
    resumed_losses = [h["loss"] for h in resumed.state.log_history if "loss" in h]

    assert [b["step"] for b in resumed.batches] == [2, 3]
    after_checkpoint = uninterrupted.batches[2:]
    assert [b["step"] for b in after_checkpoint] == [2, 3]
    for expected, got in zip(after_checkpoint, resumed.batches, strict=True):
        assert got["completions"] == expected["completions"]
        assert got["sources"] == expected["sources"]
        for name, values in expected["rewards"].items():
            assert got["rewards"][name] == pytest.approx(values, abs=1e-7), name
        assert got["advantages"] == pytest.approx(expected["advantages"])
    assert any(s != "policy" for b in resumed.batches for s in b["sources"])
    assert resumed_losses[:2] == full_losses[:2]  # the history restored from the checkpoint
    assert resumed_losses[2:] == pytest.approx(full_losses[2:], rel=1e-6)
