"""The vLLM contract, on CPU: a generation backend that returns the sampled tokens' log-probs the way TRL's vLLM path
does (processed log-probs of the sampling distribution) drives the trainer with importance-sampling correction on.
Spliced teacher rows carry NaN sampling log-probs of their own length, so TRL gives them a ratio of exactly 1, and the
online rows' ratios are TRL's usual exp(old - sampling). This tier runs without vLLM; `make test-vllm` checks the same on
the real engine (tests/vllm_tier)."""

import math

import pytest
import torch
from helpers import arithmetic_dataset, make_trainer, unpadded
from trl.trainer.utils import pad

from oger_trl import SampleSource


def sample_with_logprobs(trainer, prompt_ids: list[list[int]]) -> tuple[list[list[int]], list[list[float]]]:
    """Sample with transformers and report, per completion token, its log-prob under the processed (temperature-scaled)
    sampling distribution, cut after the first EOS: what `VLLMGeneration.generate` hands to GRPOTrainer."""
    model = trainer.accelerator.unwrap_model(trainer.model)
    tokenizer = trainer._tokenizer
    ids = pad([torch.tensor(p) for p in prompt_ids], tokenizer.pad_token_id, "left")
    mask = pad([torch.ones(len(p), dtype=torch.long) for p in prompt_ids], 0, "left")
    with torch.no_grad():
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            generation_config=trainer.generation_config,
            output_scores=True,
            return_dict_in_generate=True,
        )
    logprobs = model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)
    completions, completion_logprobs = [], []
    for row, row_logprobs in zip(out.sequences[:, ids.size(1) :].tolist(), logprobs.tolist(), strict=True):
        end = next((t + 1 for t, token in enumerate(row) if token in trainer.eos_token_ids), len(row))
        completions.append(row[:end])
        completion_logprobs.append(row_logprobs[:end])
    return completions, completion_logprobs


def vllm_like_trainer(tmp_path, tokenizer, encoder, mode):
    trainer = make_trainer(tmp_path, tokenizer, encoder, dataset=arithmetic_dataset(8, wrong_teacher=False))
    # TRL's vLLM branch in _generate_and_score_completions, with the backend above in place of the vLLM engine
    trainer.use_vllm = True
    trainer.vllm_importance_sampling_correction = True
    trainer.vllm_importance_sampling_mode = mode
    trainer._generate_single_turn = lambda prompt_ids, *args, **kwargs: sample_with_logprobs(trainer, prompt_ids)
    return trainer


@pytest.mark.parametrize("mode", ["token_truncate", "sequence_mask"])
def test_teacher_rows_get_an_importance_ratio_of_exactly_one(tmp_path, tokenizer, encoder, mode):
    trainer = vllm_like_trainer(tmp_path, tokenizer, encoder, mode)
    trainer.model.train()
    output = trainer._generate_and_score_completions(next(iter(trainer.get_train_dataloader())))
    teacher = output["sample_source"] == SampleSource.TEACHER
    assert teacher.sum() == 1
    sampling, old, ratio = (
        output["sampling_per_token_logps"],
        output["old_per_token_logps"],
        output["importance_sampling_ratio"],
    )
    mask = output["completion_mask"].bool()
    for i in range(len(teacher)):
        length = len(unpadded(output["completion_ids"][i], output["completion_mask"][i]))
        if teacher[i]:
            assert torch.isnan(sampling[i, :length]).all()  # NaN of exactly the teacher's length
            assert not torch.isnan(sampling[i, length:]).any()
            assert (ratio[i] == 1.0).all()
        else:
            assert not torch.isnan(sampling[i][mask[i]]).any()
            diff = ((old[i] - sampling[i]) * mask[i])[None]
            expected = torch.exp(diff) if mode == "token_truncate" else torch.exp(diff.sum(-1, keepdim=True))
            if mode == "token_truncate":
                expected = expected.clamp(max=trainer.vllm_importance_sampling_clip_max)
            torch.testing.assert_close(ratio[i][None], expected)
    assert ratio[~teacher].sub(1).abs().max() < 1e-3  # same policy, same weights: online ratios stay near 1
    # H_last came from TRL's no-grad pass over the hybrid batch
    assert all(
        not math.isnan(h)
        for h, s in zip(trainer._logs["extra"]["entropy_last"], trainer._logs["extra"]["source"], strict=True)
        if s == "policy"
    )


def test_training_steps_run_with_nan_sampling_logprobs(tmp_path, tokenizer, encoder):
    trainer = vllm_like_trainer(tmp_path, tokenizer, encoder, "sequence_mask")
    trainer.train()
    logs = [h for h in trainer.state.log_history if "loss" in h]
    assert len(logs) == 2 and all(math.isfinite(h["loss"]) for h in logs)
    assert all(math.isfinite(h["sampling/importance_sampling_ratio/mean"]) for h in logs)
