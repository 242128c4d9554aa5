"""avg@k and the unbiased pass@k estimator against closed forms and brute-force enumeration."""

import itertools
from math import comb

import pytest

from oger_trl.evaluation.metrics import distinct_correct, pass_at_k, reported_ks, summarize


def brute_force_pass_at_k(n, c, k):
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in subset) for subset in subsets) / len(subsets)


@pytest.mark.parametrize(("n", "c", "k"), [(6, 2, 3), (5, 0, 2), (5, 5, 1), (8, 1, 8), (7, 3, 1), (10, 4, 5)])
def test_pass_at_k_is_the_probability_that_a_k_subset_holds_a_correct_sample(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(brute_force_pass_at_k(n, c, k))


def test_pass_at_k_closed_form():
    assert pass_at_k(32, 8, 1) == pytest.approx(0.25)
    assert pass_at_k(32, 8, 8) == pytest.approx(1 - comb(24, 8) / comb(32, 8))
    assert pass_at_k(32, 8, 8) == pytest.approx(0.930, abs=5e-4)
    with pytest.raises(ValueError):
        pass_at_k(4, 1, 5)


def test_reported_ks():
    assert reported_ks(1) == [1]
    assert reported_ks(8) == [1, 2, 4, 8]
    assert reported_ks(6) == [1, 2, 4, 6]


def record(benchmark, item, correct, tokens=10, truncated=False):
    return {"benchmark": benchmark, "id": item, "correct": correct, "num_tokens": tokens, "truncated": truncated}


def test_summary_per_benchmark_and_per_domain():
    samples = [
        record("gsm8k", "0", True), record("gsm8k", "0", False),
        record("gsm8k", "1", False, 30, True), record("gsm8k", "1", False),
        record("math500", "0", True), record("math500", "0", True),
        record("arc_c", "0", False), record("arc_c", "0", True),
    ]  # fmt: skip
    summary = summarize(samples, 2, {"gsm8k": "in", "math500": "in", "arc_c": "out"})
    gsm8k = summary["benchmarks"]["gsm8k"]
    assert gsm8k["avg@2"] == pytest.approx((0.5 + 0.0) / 2)
    assert gsm8k["pass@1"] == pytest.approx(0.25) and gsm8k["pass@2"] == pytest.approx(0.5)
    assert gsm8k["mean_response_tokens"] == pytest.approx(15) and gsm8k["truncation_rate"] == pytest.approx(0.25)
    assert summary["in_domain_avg@2"] == pytest.approx((0.25 + 1.0) / 2)
    assert summary["out_domain_avg@2"] == pytest.approx(0.5)


def test_avg_at_1_equals_pass_at_1():
    samples = [record("gsm8k", str(i), i % 3 == 0) for i in range(9)]
    metrics = summarize(samples, 1, {"gsm8k": "in"})["benchmarks"]["gsm8k"]
    assert metrics["avg@1"] == metrics["pass@1"] == pytest.approx(3 / 9)


def test_distinct_correct_counts_different_right_answers_not_their_whitespace_or_wrong_ones():
    texts = ["3 + 4 = 7. \\boxed{7}", "3 + 4 =  7.\n\\boxed{7}", "Count up: \\boxed{7}", "\\boxed{8}", "\\boxed{9}"]
    assert distinct_correct(texts, [True, True, True, False, False]) == 2
    assert distinct_correct(texts, [False] * 5) == 0
