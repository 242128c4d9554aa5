"""The exploration reward column (DESIGN.md section 1, steps 4-5) against an independent computation: divergence from
fresh encodings, last-token entropy from a plain forward of the policy, verifiable reward from the reward columns."""

import math
from unittest.mock import patch

import pytest
import torch
from helpers import (
    arithmetic_dataset,
    base_config_kwargs,
    build_model,
    letter_reward,
    make_trainer,
    needs_shared,
    record_online_generation,
    reference_divergence,
    reference_last_entropy,
    shared_path,
)
from trl import GRPOConfig, GRPOTrainer
from trl.rewards import accuracy_reward

from oger_trl.data.gsm8k import gsm8k_teacher_dataset
from oger_trl.demo.tasks import addition_task
from oger_trl.rewards import math_answer_reward
from oger_trl.trainer import completion_text

GSM8K_SOLUTIONS = shared_path("data", "gsm8k", "example_model_solutions.jsonl")

# The three sources of H_last: the logits seen while transformers decodes; TRL's own no-grad log-prob pass, which runs
# when gradient_accumulation_steps % steps_per_generation != 0; one extra no-grad forward (continuous batching hides
# the logits, as vLLM does).
DECODING = dict(gradient_accumulation_steps=2)
TRL_PASS = dict(gradient_accumulation_steps=1, steps_per_generation=2)
FORWARD = dict(gradient_accumulation_steps=2, use_transformers_continuous_batching=True)
SOURCES = pytest.mark.parametrize("geometry", [DECODING, TRL_PASS, FORWARD], ids=["decoding", "trl-pass", "forward"])


@SOURCES
@pytest.mark.parametrize("modulation", ["exp_neg", "none"])
def test_online_rows_earn_coef_times_divergence_times_confidence_times_reward(
    tmp_path, tokenizer, encoder, geometry, modulation
):
    coef = 3.0
    trainer = make_trainer(
        tmp_path, tokenizer, encoder, exploration_coef=coef, entropy_modulation=modulation, **geometry
    )
    trainer.model.train()
    rows = next(iter(trainer.get_train_dataloader()))
    recorded, _ = record_online_generation(trainer, rows)
    logs = trainer._logs
    checked = 0
    for i, row in enumerate(rows):
        if logs["extra"]["source"][i] != "policy":
            assert logs["rewards"]["oger_exploration"][i] == 0.0
            continue
        text = completion_text(recorded["completions"][i])
        (divergence,) = reference_divergence(encoder, [text], row["teacher_completions"])
        h_last = reference_last_entropy(trainer.model, recorded["prompt_ids"][i], recorded["completion_ids"][i])
        verifiable = logs["rewards"]["accuracy_reward"][i] + logs["rewards"]["letter_reward"][i]
        g = math.exp(-h_last) if modulation == "exp_neg" else 1.0
        assert logs["extra"]["divergence"][i] == pytest.approx(divergence, abs=1e-5)
        assert logs["extra"]["entropy_last"][i] == pytest.approx(h_last, abs=1e-4)
        assert logs["rewards"]["oger_exploration"][i] == pytest.approx(coef * divergence * g * verifiable, abs=1e-5)
        checked += verifiable > 0
    assert checked > 0  # some online rows did earn a bonus


def count_logp_passes(trainer) -> int:
    calls = []
    original = GRPOTrainer._get_per_token_logps_and_entropies

    def counting(self, *args, **kwargs):
        calls.append(kwargs.get("compute_entropy"))
        return original(self, *args, **kwargs)

    trainer.model.train()
    rows = next(iter(trainer.get_train_dataloader()))
    with patch.object(GRPOTrainer, "_get_per_token_logps_and_entropies", counting):
        trainer._generate_and_score_completions(rows)
    return len(calls)


@pytest.mark.parametrize(
    ("geometry", "extra"), [(DECODING, 0), (TRL_PASS, 0), (FORWARD, 1)], ids=["decoding", "trl-pass", "forward"]
)
def test_last_token_entropy_costs_an_extra_forward_only_when_no_pass_exposes_the_logits(
    tmp_path, tokenizer, encoder, geometry, extra
):
    grpo_kwargs = base_config_kwargs(tmp_path / "grpo", tmp_path / "cache", **geometry)
    grpo_kwargs.pop("teacher_cache_dir")
    grpo = GRPOTrainer(
        build_model(tokenizer),
        [accuracy_reward],
        GRPOConfig(**grpo_kwargs),
        arithmetic_dataset(8),
        processing_class=tokenizer,
    )
    oger = make_trainer(tmp_path, tokenizer, encoder, **geometry)
    assert count_logp_passes(oger) == count_logp_passes(grpo) + extra


def test_rows_whose_reward_functions_all_return_none_stay_unscorable(tmp_path, tokenizer, encoder):
    def abstain(completions, **kwargs):
        return [None] * len(completions)

    trainer = make_trainer(tmp_path, tokenizer, encoder, reward_funcs=[abstain], num_offline_per_group=0)
    trainer.model.train()
    _, output = record_online_generation(trainer, next(iter(trainer.get_train_dataloader())))
    assert all(math.isnan(v) for v in trainer._logs["rewards"]["oger_exploration"])
    assert output["advantages"].abs().sum() == 0  # TRL zeroes the advantage of unscorable rows, as in plain GRPO


def test_reward_weights_weight_the_verifiable_reward_and_leave_the_users_list_unchanged(tmp_path, tokenizer, encoder):
    trainer = make_trainer(tmp_path, tokenizer, encoder, reward_weights=[0.0, 2.0], num_offline_per_group=0)
    assert trainer.args.reward_weights == [0.0, 2.0]
    assert trainer.reward_weights.tolist() == [0.0, 2.0, 1.0]
    assert trainer.reward_func_names == ["accuracy_reward", "letter_reward"]  # the exploration column is OGER's own
    trainer.model.train()
    record_online_generation(trainer, next(iter(trainer.get_train_dataloader())))
    logs = trainer._logs
    for i, bonus in enumerate(logs["rewards"]["oger_exploration"]):
        divergence, h_last = logs["extra"]["divergence"][i], logs["extra"]["entropy_last"][i]
        expected = divergence * math.exp(-h_last) * 2.0 * logs["rewards"]["letter_reward"][i]
        assert bonus == pytest.approx(expected, abs=1e-6)


def test_letter_reward_is_a_real_signal():
    assert letter_reward(["12 apples and pears", "1 + 2 = 3"]) == [0.6, 0.0]


def test_teacher_rows_longer_than_every_online_completion(tmp_path, tokenizer, encoder):
    # online completions stop after 3 tokens; teacher completions are longer than anything the policy decoded
    trainer = make_trainer(
        tmp_path, tokenizer, encoder, **DECODING, generation_kwargs={"max_new_tokens": 3}, num_offline_per_group=1
    )
    trainer.model.train()
    recorded, output = record_online_generation(trainer, next(iter(trainer.get_train_dataloader())))
    assert max(len(ids) for ids in recorded["completion_ids"]) <= 3
    teacher = output["sample_source"] == 1
    assert teacher.any() and output["completion_mask"][teacher].sum(1).min() > 3
    entropy_last = trainer._logs["extra"]["entropy_last"]
    assert all(math.isnan(h) == bool(t) for h, t in zip(entropy_last, teacher.tolist(), strict=True))


def test_online_reward_metric_is_the_verifiable_reward_of_the_policy_rows_only(tmp_path, tokenizer, encoder):
    # reward weights make R_m a weighted sum; letter_reward gives the random policy a reward it does earn
    trainer = make_trainer(tmp_path, tokenizer, encoder, reward_weights=[1.0, 0.5])
    trainer.model.train()
    record_online_generation(trainer, next(iter(trainer.get_train_dataloader())))
    logs = trainer._logs
    verifiable = [
        accuracy + 0.5 * letter
        for accuracy, letter in zip(logs["rewards"]["accuracy_reward"], logs["rewards"]["letter_reward"], strict=True)
    ]
    sources = list(logs["extra"]["source"])
    online = [r for r, source in zip(verifiable, sources, strict=True) if source == "policy"]
    teacher = [r for r, source in zip(verifiable, sources, strict=True) if source != "policy"]
    assert online and teacher
    (logged,) = trainer._metrics["train"]["oger/online_reward/mean"]
    assert logged == pytest.approx(sum(online) / len(online), abs=1e-6)
    assert logged != pytest.approx(sum(verifiable) / len(verifiable), abs=1e-3)  # the teacher rows would change it


def agreement(completions: list[str], golds: list[str]) -> tuple[list, list]:
    messages = [[{"role": "assistant", "content": c}] for c in completions]
    return math_answer_reward(messages, golds), accuracy_reward(messages, golds)


def test_the_package_grader_agrees_with_accuracy_reward_on_boxed_answers():
    # the demo's three teacher styles for its 60 training problems, each also with its answer off by one
    completions, golds = [], []
    for row in addition_task().train:
        for text in row["teacher_completions"]:
            wrong = text.replace(f"{{{row['solution']}}}", f"{{{int(row['solution']) + 1}}}")
            completions += [text, wrong]
            golds += [row["solution"]] * 2
    ours, trl = agreement(completions, golds)
    assert ours == trl
    assert ours[0::2] == [1.0] * (len(ours) // 2) and ours[1::2] == [0.0] * (len(ours) // 2)


@needs_shared(GSM8K_SOLUTIONS)
def test_gsm8k_teachers_kept_by_prepare_score_one_with_either_grader():
    # `prepare` keeps a teacher completion when the package grader marks it correct; training must agree
    dataset = gsm8k_teacher_dataset(GSM8K_SOLUTIONS).select(range(100))
    completions = [text for row in dataset for text in row["teacher_completions"]]
    golds = [row["solution"] for row in dataset for _ in row["teacher_completions"]]
    ours, trl = agreement(completions, golds)
    assert ours == [1.0] * len(completions)
    assert trl == ours


def reference_representation(model, prompt_ids: list[int], completion_ids: list[int]) -> torch.Tensor:
    """The mean over the completion of the last hidden state (after the final norm) at the positions that produced
    each token: a plain forward with `output_hidden_states`."""
    with torch.no_grad():
        out = model(input_ids=torch.tensor([prompt_ids + completion_ids]), output_hidden_states=True)
    p, c = len(prompt_ids), len(completion_ids)
    return out.hidden_states[-1][0, p - 1 : p + c - 1].double().mean(0)


def direct_novelty(phi: torch.Tensor, others: list[torch.Tensor], ridge: float) -> float:
    """sqrt(ridge * phi^T (sum_j phi_j phi_j^T + ridge I)^-1 phi) on unit vectors, the h x h matrix inverted."""
    phi = phi / phi.norm()
    sigma = ridge * torch.eye(phi.numel(), dtype=torch.float64)
    for other in others:
        other = other / other.norm()
        sigma += torch.outer(other, other)
    return math.sqrt(ridge * float(phi @ torch.linalg.inv(sigma) @ phi))


@SOURCES
def test_the_representation_bonus_pays_the_novelty_of_the_policys_hidden_states_in_the_group(
    tmp_path, tokenizer, encoder, geometry
):
    ridge = 0.5
    trainer = make_trainer(
        tmp_path, tokenizer, encoder, exploration_bonus="representation", representation_ridge=ridge, **geometry
    )
    trainer.model.train()
    rows = next(iter(trainer.get_train_dataloader()))
    recorded, _ = record_online_generation(trainer, rows)
    logs, n = trainer._logs, trainer.num_generations
    online = [i for i in range(len(rows)) if logs["extra"]["source"][i] == "policy"]
    states = {
        i: reference_representation(trainer.model, recorded["prompt_ids"][i], recorded["completion_ids"][i])
        for i in online
    }
    checked = 0
    for i in online:
        others = [states[j] for j in online if j // n == i // n and j != i]
        novelty = direct_novelty(states[i], others, ridge)
        h_last = logs["extra"]["entropy_last"][i]
        verifiable = logs["rewards"]["accuracy_reward"][i] + logs["rewards"]["letter_reward"][i]
        expected = novelty * math.exp(-h_last) * verifiable
        assert logs["rewards"]["oger_exploration"][i] == pytest.approx(expected, abs=1e-4)
        checked += expected > 0
    assert checked > 0


def trained(tmp_path, tokenizer, encoder, max_steps=3, **overrides):
    trainer = make_trainer(tmp_path, tokenizer, encoder, max_steps=max_steps, **overrides)
    trainer.train()
    return trainer


def test_the_divergence_bonus_as_a_user_function_trains_exactly_as_the_default(tmp_path, tokenizer, encoder):
    """The user-function path (gathered embeddings, recorded hidden states, BonusInputs) changes nothing but B."""
    default = trained(tmp_path / "default", tokenizer, encoder)
    plugged = trained(tmp_path / "plugged", tokenizer, encoder, exploration_bonus="oger_trl.bonuses.divergence_bonus")
    assert default.args.exploration_bonus == "divergence"
    assert [h.get("loss") for h in plugged.state.log_history] == [h.get("loss") for h in default.state.log_history]
    assert plugged._logs["rewards"]["oger_exploration"] == default._logs["rewards"]["oger_exploration"]
    assert any(v > 0 for v in default._logs["rewards"]["oger_exploration"])
    for (name, a), (_, b) in zip(default.model.named_parameters(), plugged.model.named_parameters(), strict=True):
        assert torch.equal(a, b), name


def test_a_user_bonus_function_replaces_the_divergence_end_to_end(tmp_path, tokenizer, encoder):
    trainer = make_trainer(tmp_path, tokenizer, encoder, exploration_bonus="helpers.nearest_teacher_bonus")
    trainer.model.train()
    rows = next(iter(trainer.get_train_dataloader()))
    recorded, _ = record_online_generation(trainer, rows)
    logs = trainer._logs
    for i, row in enumerate(rows):
        if logs["extra"]["source"][i] != "policy":
            assert logs["rewards"]["oger_exploration"][i] == 0.0
            continue
        online = encoder.encode([completion_text(recorded["completions"][i])]).double()
        teachers = encoder.encode(row["teacher_completions"]).double()
        bonus = max(0.0, 1 - float((online @ teachers.T).max()))
        verifiable = logs["rewards"]["accuracy_reward"][i] + logs["rewards"]["letter_reward"][i]
        expected = bonus * math.exp(-logs["extra"]["entropy_last"][i]) * verifiable
        assert logs["rewards"]["oger_exploration"][i] == pytest.approx(expected, abs=1e-5)


def test_the_exploration_coefficient_schedule_is_applied_and_logged_at_each_step(tmp_path, tokenizer, encoder):
    trainer = trained(
        tmp_path, tokenizer, encoder, exploration_coef=2.0, exploration_coef_schedule="linear", max_steps=4
    )
    logged = [h["oger/exploration_coef"] for h in trainer.state.log_history if "oger/exploration_coef" in h]
    assert logged == pytest.approx([2.0, 1.5, 1.0, 0.5])  # the value at the step each batch was generated for
