"""The exploration math of DESIGN.md section 1, steps 2-5, against hand computation."""

import math

import numpy as np
import pytest
import torch

from oger_trl.exploration import (
    confidence_factor,
    divergence_from_similarity,
    draw_teachers,
    exploration_reward,
    group_rng,
    last_token_entropy,
    mean_teacher_similarity,
    plan_group_splice,
    rows_to_replace,
    verifiable_reward,
)

NAN = float("nan")


def unit(*v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def test_similarity_is_the_mean_cosine_to_each_rows_own_teachers():
    online = np.stack([unit(1, 0, 0), unit(0, 1, 0), unit(1, 1, 0), unit(0, 0, 1)])
    teachers = [
        [unit(1, 0, 0), unit(0, 1, 0)],  # cos 1 and 0 -> 0.5
        [unit(0, 1, 0)],  # cos 1
        [unit(1, 0, 0), unit(0, 0, 1), unit(-1, -1, 0)],  # cos 0.7071, 0, -1 -> -0.0976
        [],  # no teachers -> NaN
    ]
    expected = [np.mean([online[i] @ t for t in ts]) if ts else NAN for i, ts in enumerate(teachers)]
    flat = torch.tensor(np.array([t for ts in teachers for t in ts]), dtype=torch.float32)
    got = mean_teacher_similarity(torch.tensor(online, dtype=torch.float32), flat, [len(t) for t in teachers])
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-6)
    assert got[0].item() == pytest.approx(0.5) and got[1].item() == pytest.approx(1.0)
    assert math.isnan(got[3].item())


def test_similarity_rejects_counts_that_do_not_match():
    with pytest.raises(ValueError, match="do not match"):
        mean_teacher_similarity(torch.zeros(2, 3), torch.zeros(3, 3), [1, 1])


def test_divergence_is_one_minus_similarity_clamped_to_unit_interval():
    s = torch.tensor([1.0, 0.25, 0.0, -0.4, NAN])
    d = divergence_from_similarity(s)
    assert d[:4].tolist() == pytest.approx([0.0, 0.75, 1.0, 1.0])
    assert math.isnan(d[4].item())


def test_similarity_strategy_replaces_the_most_teacher_like_rows_ties_by_lowest_index():
    d = torch.tensor([0.5, 0.2, 0.9, 0.2, 0.1])
    rng = group_rng(0, 0, 0)
    assert rows_to_replace(d, 1, "similarity", rng) == [4]
    assert rows_to_replace(d, 2, "similarity", rng) == [4, 1]  # tie 0.2 at rows 1 and 3: the lower index wins
    assert rows_to_replace(d, 3, "similarity", rng) == [4, 1, 3]
    assert rows_to_replace(torch.zeros(4), 2, "similarity", rng) == [0, 1]
    assert rows_to_replace(d, 0, "similarity", rng) == []


def test_random_strategy_draws_distinct_rows_reproducibly():
    d = torch.rand(8)
    draws = [rows_to_replace(d, 3, "random", group_rng(7, 3, g)) for g in range(20)]
    assert all(len(set(r)) == 3 and all(0 <= i < 8 for i in r) for r in draws)
    assert draws == [rows_to_replace(d, 3, "random", group_rng(7, 3, g)) for g in range(20)]
    assert len({tuple(r) for r in draws}) > 1  # not the same rows for every group
    with pytest.raises(ValueError, match="Unknown replacement strategy"):
        rows_to_replace(d, 1, "closest", group_rng(0, 0, 0))


def test_group_rng_is_a_pure_function_of_seed_step_and_group():
    a = group_rng(42, 10, 3).permutation(100)
    assert np.array_equal(a, group_rng(42, 10, 3).permutation(100))
    assert not np.array_equal(a, group_rng(42, 11, 3).permutation(100))
    assert not np.array_equal(a, group_rng(42, 10, 4).permutation(100))
    assert not np.array_equal(a, group_rng(43, 10, 3).permutation(100))


def test_teacher_draw_is_uniform_distinct_and_skips_teachers_that_do_not_fit():
    counts = np.zeros(4)
    for g in range(4000):
        (j,) = draw_teachers(group_rng(0, 0, g), 4, 1, lambda j: True)
        counts[j] += 1
    assert np.all(np.abs(counts / 4000 - 0.25) < 0.03)  # uniform over the prompt's teachers

    examined = []

    def fits(j):
        examined.append(j)
        return j != 2  # teacher 2 is too long

    for g in range(50):
        examined.clear()
        chosen = draw_teachers(group_rng(1, 0, g), 4, 2, fits)
        assert len(chosen) == 2 and len(set(chosen)) == 2 and 2 not in chosen
        assert len(examined) <= 3  # lazily: stops as soon as k teachers fit
    assert draw_teachers(group_rng(0, 0, 0), 3, 2, lambda j: j == 1) == [1]  # fewer fit than asked
    assert draw_teachers(group_rng(0, 0, 0), 0, 1, lambda j: True) == []


def test_last_token_entropy_picks_the_position_that_emitted_the_last_token():
    entropies = torch.arange(12, dtype=torch.float32).view(3, 4)
    h = last_token_entropy(entropies, torch.tensor([3, 1, 0]))
    assert h[:2].tolist() == [2.0, 4.0]  # rows 0 and 1 end at positions 2 and 0
    assert math.isnan(h[2].item())  # an empty completion has no last token


def test_confidence_factor():
    h = torch.tensor([0.0, 1.0, 2.5])
    assert confidence_factor(h, "exp_neg").tolist() == pytest.approx([1.0, math.exp(-1), math.exp(-2.5)])
    assert confidence_factor(h, "none").tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError):
        confidence_factor(h, "exp")


def test_exploration_reward_matches_the_paper_formula_row_by_row():
    d = torch.tensor([0.5, 0.3, NAN, 0.4, 0.8, 0.6, 0.7])
    h = torch.tensor([0.0, math.log(2), 1.0, 0.5, NAN, 0.2, 1.5])
    r = torch.tensor([1.0, 0.5, 1.0, 1.0, 1.0, -1.0, NAN])
    policy = torch.tensor([True, True, True, False, True, True, True])
    got = exploration_reward(d, h, r, policy, coef=2.0, modulation="exp_neg")
    expected = [
        2 * 0.5 * 1.0 * 1.0,  # confident, correct
        2 * 0.3 * 0.5 * 0.5,  # exp(-ln 2) = 0.5, reward 0.5
        0.0,  # prompt without teachers
        0.0,  # teacher row: never a bonus
        0.0,  # unknown last-token entropy
        0.0,  # negative verifiable reward is clamped to 0
    ]
    assert got[:6].tolist() == pytest.approx(expected)
    assert math.isnan(got[6].item())  # unscorable stays unscorable
    no_mod = exploration_reward(d, h, r, policy, coef=1.0, modulation="none")
    assert no_mod[1].item() == pytest.approx(0.3 * 0.5)


def test_group_plan_pairs_the_most_teacher_like_rows_with_distinct_teachers_that_fit():
    d = torch.tensor([0.4, 0.1, 0.3, 0.1])
    plan = plan_group_splice(d, 3, 2, "similarity", group_rng(0, 0, 0), fits=lambda j: j != 0)
    assert [slot for slot, _ in plan] == [1, 3]  # the two lowest divergences, tie by lowest index
    assert sorted(teacher for _, teacher in plan) == [1, 2]  # teacher 0 does not fit
    assert plan_group_splice(d, 3, 2, "similarity", group_rng(0, 0, 0), fits=lambda j: j == 2) == [(1, 2)]
    assert plan_group_splice(d, 3, 1, "random", group_rng(5, 1, 2), lambda j: True) == plan_group_splice(
        torch.rand(4), 3, 1, "random", group_rng(5, 1, 2), lambda j: True
    )  # random slots ignore the divergences


def test_verifiable_reward_is_the_weighted_sum_nan_only_when_every_column_is():
    nan = float("nan")
    rewards = torch.tensor([[1.0, 0.5], [nan, 0.5], [nan, nan], [0.0, 0.0]])
    got = verifiable_reward(rewards, torch.tensor([2.0, -1.0]))
    assert got[:2].tolist() == [1.5, -0.5] and torch.isnan(got[2]) and got[3].item() == 0.0
