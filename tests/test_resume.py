"""Nothing is lost on interruption: a run resumed from a checkpoint makes the same splice decisions, rewards and losses
as the run that was never interrupted, and reuses the teacher-embedding cache."""

import json
import logging
from unittest.mock import patch

import pytest
from helpers import arithmetic_dataset, base_config_kwargs, build_model, letter_reward, recording_trainer_class
from trl.rewards import accuracy_reward

from oger_trl import OGERConfig
from oger_trl.errors import UsageError


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


def test_a_save_cut_short_is_skipped_and_resume_continues_from_the_last_complete_checkpoint(
    tmp_path, tokenizer, encoder, caplog
):
    from transformers import Trainer

    uninterrupted = trainer_for(tmp_path, tokenizer, encoder, tmp_path / "full")
    uninterrupted.train()
    full_losses = [h["loss"] for h in uninterrupted.state.log_history if "loss" in h]

    interrupted = trainer_for(tmp_path, tokenizer, encoder, tmp_path / "cut")
    save_rng_state = Trainer._save_rng_state

    def interrupt_the_second_save(self, output_dir):
        if self.state.global_step == 4:  # weights and optimizer written, RNG state and trainer_state.json not yet
            raise KeyboardInterrupt
        save_rng_state(self, output_dir)

    with patch.object(Trainer, "_save_rng_state", interrupt_the_second_save), pytest.raises(KeyboardInterrupt):
        interrupted.train()
    cut = tmp_path / "cut"
    assert (cut / "checkpoint-4" / "model.safetensors").exists()
    assert not (cut / "checkpoint-4" / "trainer_state.json").exists()

    resumed = trainer_for(tmp_path, tokenizer, encoder, cut)
    with caplog.at_level(logging.WARNING, logger="oger_trl.checkpoints"):
        resumed.train(resume_from_checkpoint=True)
    assert f"Resuming from {cut / 'checkpoint-2'}: skipped {cut / 'checkpoint-4'}, whose save did not finish" in (
        caplog.text
    )
    assert [b["step"] for b in resumed.batches] == [2, 3]
    resumed_losses = [h["loss"] for h in resumed.state.log_history if "loss" in h]
    assert resumed_losses == pytest.approx(full_losses, rel=1e-6)


@pytest.mark.parametrize(
    ("given", "meaning"),
    [("true", "latest"), ("True", "latest"), ("latest", "latest"), (True, "latest"), ("false", None), (None, None)],
)
def test_resume_from_checkpoint_true_means_the_latest_checkpoint_on_the_command_line_too(tmp_path, given, meaning):
    from oger_trl.checkpoints import resume_target

    for step in (2, 4):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    latest = str(tmp_path / "checkpoint-4")
    assert resume_target(given, str(tmp_path)) == (latest if meaning == "latest" else None)
    assert resume_target(str(tmp_path / "checkpoint-2"), str(tmp_path)) == str(tmp_path / "checkpoint-2")
    with pytest.raises(UsageError, match=r"resume_from_checkpoint 'out/checkpoint-7': no such folder"):
        resume_target("out/checkpoint-7", str(tmp_path))


def test_resume_without_a_complete_checkpoint_says_so(tmp_path):
    from oger_trl.checkpoints import latest_complete_checkpoint

    (tmp_path / "checkpoint-3").mkdir()
    (tmp_path / "checkpoint-3" / "trainer_state.json").write_text('{"global_st')  # cut mid-write
    with pytest.raises(UsageError, match=r"holds no complete checkpoint \(incomplete: .*checkpoint-3\)"):
        latest_complete_checkpoint(str(tmp_path))


def test_a_run_resumed_in_a_later_epoch_continues_with_the_uninterrupted_runs_data_order(tmp_path, tokenizer, encoder):
    def trainer(output_dir):
        args = OGERConfig(
            **base_config_kwargs(output_dir, tmp_path / "cache", max_steps=6, save_strategy="steps", save_steps=1)
        )
        return recording_trainer_class()(
            build_model(tokenizer),
            reward_funcs=[accuracy_reward, letter_reward],
            args=args,
            train_dataset=arithmetic_dataset(4),  # a short epoch: several within 6 steps
            processing_class=tokenizer,
            encoder=encoder,
        )

    uninterrupted = trainer(tmp_path / "full")
    uninterrupted.train()
    epochs = {h["step"]: h["epoch"] for h in uninterrupted.state.log_history if "loss" in h}
    step = min(s for s, epoch in epochs.items() if epoch > 1)  # the first checkpoint past epoch 1
    assert step < 6, epochs
    resumed = trainer(tmp_path / "full")
    resumed.train(resume_from_checkpoint=str(tmp_path / "full" / f"checkpoint-{step}"))
    after = uninterrupted.batches[step:]
    assert [b["step"] for b in resumed.batches] == [b["step"] for b in after] and after
    for expected, got in zip(after, resumed.batches, strict=True):
        assert got["prompts"] == expected["prompts"]  # the epoch's order, not epoch 1's again
        assert got["completions"] == expected["completions"]
