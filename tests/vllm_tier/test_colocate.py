"""OGER on TRL's colocated vLLM engine (vLLM's CPU build): weight sync proven after every optimizer step, the
importance-sampling correction on spliced teacher rows, and H_last from TRL's no-grad pass."""

import math

import pytest
import torch
from helpers import arithmetic_dataset, reference_last_entropy, unpadded
from probes import BF16_TOLERANCE, WeightSyncProbe, fixed_completion, policy_logprobs, vllm_trainer

from oger_trl import SampleSource


def test_the_engine_holds_the_trained_weights_after_every_optimizer_step(
    tmp_path, tokenizer, encoder, tiny_model_dir, single_process_launcher
):
    trainer = vllm_trainer(tmp_path, tokenizer, encoder, tiny_model_dir, arithmetic_dataset(8), max_steps=4)
    probe = WeightSyncProbe(trainer, *fixed_completion(tokenizer, "What is 3 + 4?", "The sum is \\boxed{7}."))
    trainer.train()
    trainer.vllm_generation.sync_weights()  # what TRL does before the next generation: the last step's weights

    assert [r.step for r in probe.records] == [0, 1, 2, 3, 4]
    for record in probe.records:
        assert record.engine_vs_policy < BF16_TOLERANCE, record
    # the check can fail: an engine never synced would be off by the policy's movement since step 0, one synced a step
    # late by its movement over the last step; training at lr 1e-2 makes both exceed the tolerance
    assert all(r.policy_moved > 5 * BF16_TOLERANCE for r in probe.records[1:]), probe.records
    assert all(r.moved_last_step > BF16_TOLERANCE for r in probe.records[1:]), probe.records
    logs = [h for h in trainer.state.log_history if "loss" in h]
    assert len(logs) == 4 and all(math.isfinite(h["loss"]) for h in logs)
    assert all(h["oger/offline_frac"] > 0 for h in logs)  # teachers were spliced into vLLM's groups


@pytest.mark.parametrize("mode", ["token_truncate", "sequence_mask"])
def test_importance_ratios_and_last_token_entropy_on_engine_rows(
    tmp_path, tokenizer, encoder, tiny_model_dir, single_process_launcher, mode
):
    dataset = arithmetic_dataset(8, wrong_teacher=False)
    trainer = vllm_trainer(tmp_path, tokenizer, encoder, tiny_model_dir, dataset, vllm_importance_sampling_mode=mode)
    engine_rows = []
    generate = trainer.vllm_generation.generate

    def recorded(*args, **kwargs):  # vLLM's own output, before TRL touches it
        result = generate(*args, **kwargs)
        engine_rows.append(result)
        return result

    trainer.vllm_generation.generate = recorded
    trainer.model.train()
    output = trainer._generate_and_score_completions(next(iter(trainer.get_train_dataloader())))

    ((_, engine_completions, engine_logprobs, _),) = engine_rows
    model = trainer.accelerator.unwrap_model(trainer.model)
    teacher = output["sample_source"] == SampleSource.TEACHER
    assert teacher.sum() == 1  # one group of four, one teacher spliced
    sampling, ratio = output["sampling_per_token_logps"], output["importance_sampling_ratio"]
    entropy_last = trainer._logs["extra"]["entropy_last"]
    online = 0
    for i in range(len(teacher)):
        prompt = unpadded(output["prompt_ids"][i], output["prompt_mask"][i])
        completion = unpadded(output["completion_ids"][i], output["completion_mask"][i])
        if teacher[i]:
            assert torch.isnan(sampling[i, : len(completion)]).all()  # no engine log-probs for a teacher row
            assert (ratio[i] == 1.0).all()  # so TRL gives it exactly no correction
            assert math.isnan(entropy_last[i])
            continue
        # an online row is the engine's completion with the engine's log-probs (the one replaced row aside)
        j = engine_completions.index(completion)
        vllm = torch.tensor([step[0] for step in engine_logprobs[j]], dtype=torch.float64)
        torch.testing.assert_close(sampling[i, : len(completion)].double(), vllm, atol=1e-6, rtol=0)
        # the ratio, from an independent forward of the weights that generated the batch
        policy = policy_logprobs(model, prompt, completion, trainer.temperature)
        assert (policy - vllm).abs().mean() < BF16_TOLERANCE  # the engine samples from the trainer's policy
        diff = policy - vllm
        expected = diff.exp().clamp(max=3.0) if mode == "token_truncate" else diff.sum().exp().reshape(1)
        torch.testing.assert_close(ratio[i, : len(expected)].double(), expected, atol=1e-4, rtol=1e-4)
        # H_last from TRL's no-grad pass equals the entropy at the last completion token of a plain forward
        h = reference_last_entropy(model, prompt, completion, trainer.temperature)
        assert entropy_last[i] == pytest.approx(h, abs=1e-4)
        online += 1
    assert online == 3
