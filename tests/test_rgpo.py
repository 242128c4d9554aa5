"""RGPO: groups whose online completions all fail regenerate with the rationale as a hint; guided completions that beat
the online best go back into the group under the unguided prompt, trained with the configured loss. TRL's sampling is
replaced by a known rule (see `helpers.hint_aware`): unguided answers are right only when a is even, guided answers
copy the rationale."""

import math

import pytest
import torch
from helpers import (
    HINT_MARK,
    arithmetic_problems,
    hint_aware,
    independent_logps,
    joint_luffy_objective,
    make_trainer,
    rationale_dataset,
    unpadded,
)
from trl.rewards import accuracy_reward

from oger_trl import OGERTrainer, SampleSource

N = 4
PROBLEMS = arithmetic_problems(8)
WRONG, MISSING = (1,), (2,)  # row 1 has a wrong rationale, row 2 none


def rgpo_trainer(tmp_path, tokenizer, encoder, **overrides):
    settings = dict(
        guidance=True,
        num_guided_generations=2,
        max_guided_per_group=1,
        num_offline_per_group=0,
        exploration_coef=0.0,
        per_device_train_batch_size=8,
        gradient_accumulation_steps=4,  # 32 rows: each of the 8 prompts once, as a group of 4
        scale_rewards="none",
    )
    settings.update(overrides)
    return make_trainer(
        tmp_path,
        tokenizer,
        encoder,
        dataset=rationale_dataset(8, wrong=WRONG, missing=MISSING),
        reward_funcs=[accuracy_reward],
        trainer_class=hint_aware(OGERTrainer),
        **settings,
    )


def one_batch(trainer):
    trainer.model.train()
    rows = next(iter(trainer.get_train_dataloader()))
    return rows, trainer._generate_and_score_completions(rows)


def problem_index(row) -> int:
    a, b = map(int, row["prompt"][0]["content"].removeprefix("What is ").removesuffix("?").split(" + "))
    return PROBLEMS.index((a, b))


def test_only_failed_groups_with_a_winning_guided_completion_receive_it(tmp_path, tokenizer, encoder):
    trainer = rgpo_trainer(tmp_path, tokenizer, encoder)
    rows, output = one_batch(trainer)
    sources = output["sample_source"].tolist()
    seen = set()
    for g in range(len(rows) // N):
        index = problem_index(rows[g * N])
        seen.add(index)
        a = PROBLEMS[index][0]
        group = sources[g * N : (g + 1) * N]
        if a % 2 == 1 and index not in WRONG + MISSING:
            assert group == [SampleSource.GUIDED, 0, 0, 0]  # both guided answers win; the lowest row takes it
        else:  # succeeded online, or the guided answers did not beat the online best, or no rationale
            assert group == [SampleSource.POLICY] * N
    assert seen == set(range(8))
    accuracy = trainer._logs["rewards"]["accuracy_reward"]
    assert all(accuracy[i] == 1.0 for i, s in enumerate(sources) if s == SampleSource.GUIDED)
    metrics = trainer._metrics["train"]
    assert metrics["rgpo/failed_groups_frac"] == [6 / 8]  # odd a: problems 0, 1, 2, 4, 6, 7
    assert metrics["rgpo/guided_success_rate"] == [8 / 10]  # 5 failed groups with a rationale x 2; problem 1 is wrong
    assert metrics["rgpo/transferred_frac"] == [4 / 32]
    assert metrics["rgpo/rows_without_rationale"] == [2.0]
    assert set(trainer._logs["extra"]["source"]) == {"policy", "guided"}


def test_transferred_rows_keep_the_unguided_prompt(tmp_path, tokenizer, encoder):
    trainer = rgpo_trainer(tmp_path, tokenizer, encoder)
    _rows, output = one_batch(trainer)
    guided = (output["sample_source"] == SampleSource.GUIDED).nonzero().flatten().tolist()
    assert guided
    for i in guided:
        prompt = unpadded(output["prompt_ids"][i], output["prompt_mask"][i])
        sibling = unpadded(output["prompt_ids"][i + 1], output["prompt_mask"][i + 1])
        assert prompt == sibling and HINT_MARK not in tokenizer.decode(prompt)
        completion = tokenizer.decode(unpadded(output["completion_ids"][i], output["completion_mask"][i]))
        assert completion.startswith("Add ")  # the guided answer, generated under the hint


@pytest.mark.parametrize("guided_loss", ["shaped", "on_policy"])
def test_transferred_rows_are_trained_with_the_configured_loss(tmp_path, tokenizer, encoder, guided_loss):
    trainer = rgpo_trainer(tmp_path, tokenizer, encoder, guided_loss=guided_loss, gradient_accumulation_steps=4)
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 4
    trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
    checked = 0
    for inputs in trainer._buffered_inputs:
        guided = inputs["sample_source"] == SampleSource.GUIDED
        shaped = guided if guided_loss == "shaped" else torch.zeros_like(guided)
        ours = trainer._compute_loss(trainer.model, inputs).item()
        logps = independent_logps(trainer.model, inputs)
        expected = joint_luffy_objective(logps, inputs, "dapo", trainer, shaped=shaped).item()
        other = joint_luffy_objective(logps, inputs, "dapo", trainer, shaped=~shaped & guided).item()
        assert ours == pytest.approx(expected, rel=1e-4, abs=1e-7)
        if guided.any():
            assert ours != pytest.approx(other, rel=1e-4, abs=1e-7)  # the other loss would give another value
            checked += 1
    assert checked > 0


def test_guidance_composes_with_splicing_and_the_exploration_reward(tmp_path, tokenizer, encoder):
    trainer = rgpo_trainer(tmp_path, tokenizer, encoder, num_offline_per_group=1, exploration_coef=1.0)
    rows, _output = one_batch(trainer)
    sources = list(trainer._logs["extra"]["source"])
    mixed = 0
    for g in range(len(rows) // N):
        group = sources[g * N : (g + 1) * N]
        assert sum(s.startswith("teacher:") for s in group) == 1  # every prompt has teachers: one spliced per group
        if "guided" in group:
            assert group[0] == "guided" and group.count("guided") == 1  # the teacher never replaced the guided row
            mixed += 1
    assert mixed == 4
    bonus = trainer._logs["rewards"]["oger_exploration"]
    assert all(bonus[i] == 0.0 for i, s in enumerate(sources) if s != "policy")


@pytest.mark.parametrize(
    ("overflow", "extra_tokens", "reason"), [("truncate", 6, "truncated"), ("skip", 6, "skipped")]
)
def test_rationales_too_long_for_the_context_are_truncated_or_skipped(
    tmp_path, tokenizer, encoder, overflow, extra_tokens, reason
):
    probe = rgpo_trainer(tmp_path / "probe", tokenizer, encoder)
    prompt = [{"role": "user", "content": "What is 25 + 27?"}]
    hint_only = probe.guidance.prompt_length(probe.guidance.fit(prompt, "")[0])
    trainer = rgpo_trainer(
        tmp_path, tokenizer, encoder, guidance_max_prompt_length=hint_only + extra_tokens, rationale_overflow=overflow
    )
    _rows, output = one_batch(trainer)
    metrics = trainer._metrics["train"]
    assert metrics[f"rgpo/rationales_{reason}"] == [10.0]  # 5 failed groups with a rationale x 2 guided rows
    guided = int((output["sample_source"] == SampleSource.GUIDED).sum())
    assert guided == 0  # a cut rationale loses its boxed answer here; a skipped one is never generated


def test_prescoring_neither_double_logs_nor_misaligns_the_completion_table(tmp_path, tokenizer, encoder):
    calls = []

    def logging_accuracy(completions, solution, log_extra, log_metric, **kwargs):
        calls.append(len(completions))
        texts = [c[0]["content"] for c in completions]
        log_extra("echo", texts)
        log_metric("reward_calls", 1.0)
        return accuracy_reward(completions, solution)

    trainer = rgpo_trainer(tmp_path, tokenizer, encoder)
    trainer.reward_funcs[0] = logging_accuracy
    _rows, _output = one_batch(trainer)
    assert calls == [32, 10, 32]  # pre-scoring, guided rows (10, no padding on one process), the final group
    echo = list(trainer._logs["extra"]["echo"])
    completions = [c[0]["content"] for c in trainer._logs["completion"]]
    assert echo == completions and len(echo) == 32
    assert trainer._metrics["train"]["reward_calls"] == [1.0]
    assert not math.isnan(trainer._metrics["train"]["rgpo/guided_success_rate"][0])


def test_guidance_settings_are_validated(tmp_path):
    from helpers import base_config_kwargs

    from oger_trl import OGERConfig

    base = base_config_kwargs(tmp_path, tmp_path, guidance=True)
    with pytest.raises(ValueError, match="must stay below `num_generations`"):
        OGERConfig(**base, num_offline_per_group=2, max_guided_per_group=2)
    with pytest.raises(ValueError, match="placeholder"):
        OGERConfig(**base, guidance_template="Hint:")
    with pytest.raises(ValueError, match="guided_loss"):
        OGERConfig(**base, guided_loss="sft")
