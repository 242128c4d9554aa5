"""OGER's algorithm math as pure functions: no trainer, no model, no process group.

Notation (DESIGN.md section 1): a group is the N completions of one prompt; s_i is the mean cosine similarity of online
completion i to its prompt's M teacher completions; D_i = clamp(1 - s_i, 0, 1) its divergence; H_last_i the entropy of
the policy at the step that produced its last token; R_m_i its verifiable reward.
"""

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch


def mean_teacher_similarity(
    online: torch.Tensor, teachers: torch.Tensor, teacher_counts: Sequence[int]
) -> torch.Tensor:
    """s_i = (1/M_i) sum_j cos(online_i, teacher_ij), NaN where a row has no teachers.

    Args:
        online: `(n, d)` L2-normalised embeddings of the online completions.
        teachers: `(sum(teacher_counts), d)` L2-normalised teacher embeddings, row i's teachers stored contiguously
            (row 0's first, then row 1's, ...).
        teacher_counts: number of teachers M_i of each online row.
    """
    counts = torch.as_tensor(teacher_counts, dtype=torch.long)
    if counts.numel() != online.size(0) or int(counts.sum()) != teachers.size(0):
        raise ValueError(
            f"{online.size(0)} rows and {teachers.size(0)} teachers do not match counts {counts.tolist()}"
        )
    owner = torch.repeat_interleave(torch.arange(online.size(0)), counts)  # row of each teacher embedding
    cosines = (online.float()[owner] * teachers.float()).sum(-1)
    sums = torch.zeros(online.size(0)).index_add_(0, owner, cosines)
    return sums / counts.float()  # 0 / 0 = NaN for rows without teachers


def divergence_from_similarity(similarity: torch.Tensor) -> torch.Tensor:
    """D = clamp(1 - s, 0, 1): 0 for a teacher copy, 1 for anything orthogonal to (or opposed to) the teachers."""
    return (1.0 - similarity).clamp(0.0, 1.0)


def group_rng(seed: int, step: int, group: int) -> np.random.Generator:
    """The random stream of one group's splice draw: a pure function of (seed, global step, group index), so every
    process and a resumed run draw the same teachers and rows without sharing any RNG state."""
    return np.random.default_rng([seed, step, group])


def draw_teachers(rng: np.random.Generator, num_teachers: int, k: int, fits: Callable[[int], bool]) -> list[int]:
    """Up to k distinct teacher indices drawn uniformly at random, skipping those `fits` rejects (too long).

    Teachers are examined in a random order and `fits` is called lazily, so a prompt with many long traces costs only
    the tokenisations needed to find k that fit.
    """
    chosen = []
    for j in rng.permutation(num_teachers).tolist():
        if len(chosen) == k:
            break
        if fits(j):
            chosen.append(j)
    return chosen


def rows_to_replace(
    divergence: torch.Tensor, k: int, strategy: str, rng: np.random.Generator, eligible: torch.Tensor | None = None
) -> list[int]:
    """Indices (within one group) of the k online completions to replace by teacher completions.

    `"similarity"`: the k with the lowest divergence (highest similarity); a stable sort breaks ties by lowest index.
    `"random"`: k distinct uniformly random indices from `rng`. Only `eligible` rows (default: all) are candidates.
    """
    candidates = torch.arange(divergence.numel()) if eligible is None else eligible.nonzero().flatten()
    if strategy == "similarity":
        return candidates[torch.sort(divergence[candidates], stable=True).indices[:k]].tolist()
    if strategy == "random":
        return sorted(candidates[rng.choice(candidates.numel(), size=k, replace=False)].tolist())
    raise ValueError(f"Unknown replacement strategy {strategy!r}")


def plan_group_splice(
    divergence: torch.Tensor,
    num_teachers: int,
    k: int,
    strategy: str,
    rng: np.random.Generator,
    fits: Callable[[int], bool],
    eligible: torch.Tensor | None = None,
) -> list[tuple[int, int]]:
    """One group's splice as (row within the group, teacher index) pairs: up to k distinct teachers that fit are drawn
    first, then as many `eligible` rows to replace (see `draw_teachers` and `rows_to_replace`). A pure function of
    its inputs, so every process holding part of the group computes the same plan."""
    teachers = draw_teachers(rng, num_teachers, k, fits)
    return list(zip(rows_to_replace(divergence, len(teachers), strategy, rng, eligible), teachers, strict=True))


def prompts_with_fitting_teachers(
    teachers: Sequence[Sequence[str]], lengths: Callable[[list[str]], list[int]], budget: int
) -> int:
    """How many prompts have at least one teacher completion of at most `budget` tokens; `lengths` measures a batch
    of texts (as spliced: EOS included)."""
    flat = [text for texts in teachers for text in texts]
    measured = iter(lengths(flat) if flat else [])
    return sum(any([next(measured) <= budget for _ in texts]) for texts in teachers)


def last_token_entropy(entropies: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """H_last_i = entropies[i, lengths_i - 1]: the entropy of the distribution that emitted the last completion token
    (the EOS of a terminated completion). NaN for empty completions.

    Args:
        entropies: `(B, C)` per-token entropies, position j being the distribution that produced completion token j.
        lengths: `(B,)` number of completion tokens of each row.
    """
    index = (lengths.long() - 1).clamp(min=0).unsqueeze(1)
    picked = entropies.float().gather(1, index.to(entropies.device)).squeeze(1)
    return picked.masked_fill(lengths.to(picked.device) <= 0, float("nan"))


def confidence_factor(h_last: torch.Tensor, modulation: str) -> torch.Tensor:
    """g(H_last): `exp(-H)` for "exp_neg" (confident endings earn more), 1 for "none"."""
    if modulation == "exp_neg":
        return torch.exp(-h_last)
    if modulation == "none":
        return torch.ones_like(h_last)
    raise ValueError(f"Unknown entropy modulation {modulation!r}")


def verifiable_reward(rewards: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """R_m per row: the weighted sum of the user's reward columns, NaN where every one of them is NaN (unscorable, as
    in TRL).

    Args:
        rewards: `(B, M)` the user's reward columns (the exploration column excluded).
        weights: `(M,)` their `reward_weights`.
    """
    weighted = (rewards * weights.to(rewards.device)).nansum(1)
    return weighted.masked_fill(torch.isnan(rewards).all(1), float("nan"))


def exploration_reward(
    bonus: torch.Tensor,
    h_last: torch.Tensor,
    verifiable_reward: torch.Tensor,
    is_policy: torch.Tensor,
    coef: float,
    modulation: str,
) -> torch.Tensor:
    """R_explore = coef * B * g(H_last) * max(R_m, 0) for online completions, B the exploration bonus (OGER: the
    divergence D); 0 for teacher rows, rows the bonus cannot score (B is NaN, e.g. D without teachers) and rows whose
    last-token entropy is unknown; NaN where R_m is NaN (unscorable, as in TRL)."""
    reward = coef * bonus * confidence_factor(h_last, modulation) * verifiable_reward.clamp(min=0.0)
    eligible = is_policy & ~torch.isnan(bonus) & ~torch.isnan(h_last)
    reward = torch.where(eligible, reward, torch.zeros_like(reward))
    return reward.masked_fill(torch.isnan(verifiable_reward), float("nan"))


def scheduled_coef(initial: float, final: float, schedule: str, step: int, total_steps: int) -> float:
    """The exploration coefficient at optimizer step `step` of `total_steps`: `"constant"` keeps `initial`; `"linear"`
    and `"cosine"` decay from `initial` (step 0) to `final` (step `total_steps`, held after)."""
    if schedule == "constant":
        return initial
    progress = min(step / total_steps, 1.0) if total_steps > 0 else 1.0
    if schedule == "linear":
        return initial + (final - initial) * progress
    if schedule == "cosine":
        return final + (initial - final) * 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"Unknown exploration coefficient schedule {schedule!r}")
