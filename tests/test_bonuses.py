"""Exploration bonuses, the coefficient schedule and the policy's completion representation, against hand computation."""

import math

import pytest
import torch
from helpers import build_model, build_tokenizer, nearest_teacher_bonus

from oger_trl import OGERConfig
from oger_trl.bonuses import BONUSES, BonusInputs, elliptical_bonus, resolve_bonus
from oger_trl.completion_states import DecodingStatesRecorder, ForwardStatesRecorder, mean_completion_state
from oger_trl.exploration import scheduled_coef


def direct_elliptical(phi_i: torch.Tensor, others: torch.Tensor, ridge: float) -> float:
    """sqrt(ridge * phi^T (Sigma + ridge I)^-1 phi) with the h x h matrix inverted explicitly (no Woodbury)."""
    phi_i = phi_i.double() / phi_i.double().norm()
    others = torch.nn.functional.normalize(others.double(), dim=-1)
    sigma = others.T @ others + ridge * torch.eye(phi_i.numel(), dtype=torch.float64)
    return math.sqrt(ridge * float(phi_i @ torch.linalg.inv(sigma) @ phi_i))


def test_elliptical_bonus_matches_the_direct_formula_per_group():
    torch.manual_seed(0)
    features = torch.randn(8, 5)
    include = torch.tensor([True, True, False, True, True, True, True, True])
    for ridge in (1.0, 0.1):
        got = elliptical_bonus(features, include, group_size=4, ridge=ridge)
        for i in range(8):
            group = range(4 * (i // 4), 4 * (i // 4) + 4)
            others = features[[j for j in group if j != i and include[j]]]
            if include[i]:
                assert got[i].item() == pytest.approx(direct_elliptical(features[i], others, ridge), abs=1e-6)
            else:
                assert math.isnan(got[i].item())


def test_elliptical_bonus_limits():
    e = torch.eye(4)
    # orthogonal completions are all novel; a completion alone in its group is novel
    assert elliptical_bonus(e, torch.ones(4, dtype=torch.bool), 4, 1.0).tolist() == pytest.approx([1.0] * 4)
    assert elliptical_bonus(e[:1], torch.ones(1, dtype=torch.bool), 1, 1.0).tolist() == [1.0]
    # m + 1 identical completions: sqrt(1 / (m + 1)) at ridge 1 (scale does not matter: features are normalised)
    same = torch.tensor([[3.0, 4.0]]).repeat(4, 1) * torch.tensor([[1.0], [2.0], [0.5], [7.0]])
    assert elliptical_bonus(same, torch.ones(4, dtype=torch.bool), 4, 1.0).tolist() == pytest.approx([0.5] * 4)


def test_builtin_bonuses_and_the_representation_bonus_needs_hidden_states():
    inputs = BonusInputs(2, torch.tensor([True, False]), torch.tensor([0.3, float("nan")]))
    assert BONUSES["divergence"](inputs) is inputs.divergence
    assert BONUSES["none"](inputs).tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match="needs the policy's hidden states"):
        BONUSES["representation"](inputs)


def test_bonuses_resolve_by_name_or_dotted_path_and_bad_names_fail_at_config_time(tmp_path):
    assert resolve_bonus("representation", 0.5).keywords == {"ridge": 0.5}
    assert resolve_bonus("helpers.nearest_teacher_bonus") is nearest_teacher_bonus
    for name, message in (
        ("novelty", "must be one of"),
        ("no_such_module.bonus", "cannot import 'bonus' from 'no_such_module'"),
        ("helpers.no_such_function", "cannot import 'no_such_function'"),
        ("helpers.HINT_MARK", "not a function"),
    ):
        with pytest.raises(ValueError, match=message):
            OGERConfig(str(tmp_path), use_cpu=True, exploration_bonus=name)


def test_a_teacherless_bonus_needs_no_teacher_column(tmp_path):
    common = dict(output_dir=str(tmp_path), use_cpu=True, num_offline_per_group=0)
    assert not OGERConfig(**common, exploration_bonus="representation").uses_teachers
    assert not OGERConfig(**common, exploration_bonus="none").uses_teachers
    assert OGERConfig(**common).uses_teachers  # the divergence reads the teachers
    assert OGERConfig(**common, exploration_bonus="helpers.nearest_teacher_bonus").uses_teachers


def test_user_bonus_reads_gathered_embeddings_by_group():
    online = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [1.0, 1.0]]), dim=-1)
    teachers = [torch.tensor([[1.0, 0.0]]), torch.empty(0, 2)]
    inputs = BonusInputs(2, torch.ones(4, dtype=torch.bool), torch.zeros(4), online, teachers)
    got = nearest_teacher_bonus(inputs)
    assert got[:2].tolist() == pytest.approx([0.0, 0.4])
    assert torch.isnan(got[2:]).all()  # the second group has no teachers


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("constant", [1.0, 1.0, 1.0, 1.0, 1.0]),
        ("linear", [1.0, 0.8, 0.6, 0.4, 0.2]),
        ("cosine", [0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi * s / 4)) for s in range(4)] + [0.2]),
    ],
)
def test_coefficient_schedules(schedule, expected):
    final = 0.2 if schedule == "cosine" else 0.0
    got = [scheduled_coef(1.0, final, schedule, step, 4 if schedule == "cosine" else 5) for step in range(5)]
    assert got == pytest.approx(expected)
    assert scheduled_coef(1.0, 0.0, "linear", 9, 5) == 0.0  # held at the final value past the last step


def test_mean_completion_state_averages_each_rows_own_positions():
    states = torch.arange(2 * 3 * 2, dtype=torch.float32).view(2, 3, 2)
    got = mean_completion_state(states, torch.tensor([2, 0]))
    assert got[0].tolist() == states[0, :2].mean(0).tolist()
    assert torch.isnan(got[1]).all()


def reference_states(model, prompt: list[int], completion: list[int]) -> torch.Tensor:
    """The final-layer states (after the last norm: the LM head's input) at the positions producing each completion
    token, from a plain forward with `output_hidden_states`."""
    with torch.no_grad():
        out = model(input_ids=torch.tensor([prompt + completion]), output_hidden_states=True)
    return out.hidden_states[-1][0, len(prompt) - 1 : len(prompt) + len(completion) - 1]


def test_decoding_recorder_reads_the_states_that_produced_each_token():
    tokenizer = build_tokenizer()
    model = build_model(tokenizer).eval()
    prompts = torch.tensor([tokenizer("What is 2 + 3?")["input_ids"]] * 2)
    recorder = DecodingStatesRecorder()
    with torch.no_grad(), recorder.attached(model):
        out = model.generate(prompts, do_sample=True, max_new_tokens=6, min_new_tokens=6, pad_token_id=0)
    recorded = recorder.stacked()
    assert recorded.shape == (2, 6, model.config.hidden_size)
    for row in range(2):
        completion = out[row, prompts.size(1) :].tolist()
        expected = reference_states(model, prompts[row].tolist(), completion)
        torch.testing.assert_close(recorded[row], expected, atol=1e-5, rtol=1e-4)


def test_forward_recorder_reads_the_completion_positions_of_a_full_forward():
    tokenizer = build_tokenizer()
    model = build_model(tokenizer).eval()
    prompt, completion = tokenizer("What is 2 + 3?")["input_ids"], tokenizer(" it is 5")["input_ids"]
    recorder = ForwardStatesRecorder(len(completion))
    with torch.no_grad(), recorder.attached(model):
        ids = torch.tensor([prompt + completion])
        model(input_ids=ids, labels=ids, fused_lm_head=True)  # as TRL 1.16 scores completions: no LM head call
    torch.testing.assert_close(recorder.stacked()[0], reference_states(model, prompt, completion))
