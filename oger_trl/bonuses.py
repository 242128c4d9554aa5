"""Exploration bonuses B in [0, 1]: what the exploration reward `coef_t * B * g(H_last) * max(R_m, 0)` pays a correct
online completion for (`exploration.exploration_reward` keeps the gating: online rows only, correct rows only, the
confidence factor).

Every bonus is a pure function of one `BonusInputs`, the gathered rows of a generation batch (every process's rows in
global order), so every process computes the same bonuses for a group, however its rows are spread. Choose one with
`OGERConfig.exploration_bonus`: a built-in name of `BONUSES` or the dotted path of a `BonusFunction`.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .errors import UsageError
from .imports import import_callable


@dataclass(frozen=True)
class BonusInputs:
    """The gathered rows of one generation batch; a group is `group_size` consecutive rows.

    Attributes:
        group_size: completions per prompt (`num_generations`).
        is_policy: `(B,)` bool, rows the policy sampled (spliced teacher rows and RGPO's guided rows are False).
        divergence: `(B,)` OGER's D = clamp(1 - mean cosine to the prompt's teachers, 0, 1) of the online rows, NaN
            for the other rows and for prompts without teachers.
        online_embeddings: `(B, d)` unit-norm sentence embeddings of the online completions (NaN for the other rows).
        teacher_embeddings: one `(M_g, d)` tensor per group, the unit-norm embeddings of its prompt's teachers
            (`(0, d)` without teachers).
        hidden_states: `(B, h)` the policy's mean final-layer hidden state over each completion's tokens (NaN for
            rows the policy did not sample), or None when no pass recorded them.
    """

    group_size: int
    is_policy: torch.Tensor
    divergence: torch.Tensor
    online_embeddings: torch.Tensor | None = None
    teacher_embeddings: list[torch.Tensor] | None = None
    hidden_states: torch.Tensor | None = None


# The signature of a user bonus: `(BonusInputs) -> (B,)` float tensor in [0, 1]; NaN or rows that are not online earn
# no reward (the gating zeroes them).
BonusFunction = Callable[[BonusInputs], torch.Tensor]


def divergence_bonus(inputs: BonusInputs) -> torch.Tensor:
    """OGER: B = D, the divergence from the teachers."""
    return inputs.divergence


def no_bonus(inputs: BonusInputs) -> torch.Tensor:
    """B = 0: no exploration reward; divergence and H_last are still logged."""
    return torch.zeros_like(inputs.divergence)


def representation_bonus(inputs: BonusInputs, ridge: float = 1.0) -> torch.Tensor:
    """The elliptical novelty of each online completion's policy representation within its group
    (`elliptical_bonus` on `hidden_states`): Tuyls, Foster, Krishnamurthy and Ash, "Representation-Based Exploration
    for Language Models: From Test-Time to Post-Training", arXiv 2510.11686 (2025)."""
    if inputs.hidden_states is None:
        raise RuntimeError("The representation bonus needs the policy's hidden states, and no pass recorded them.")
    return elliptical_bonus(inputs.hidden_states, inputs.is_policy, inputs.group_size, ridge)


def elliptical_bonus(features: torch.Tensor, include: torch.Tensor, group_size: int, ridge: float) -> torch.Tensor:
    """B_i = sqrt(ridge * phi_i^T (Sigma_-i + ridge * I)^-1 phi_i), with phi = features / ||features|| and Sigma_-i the
    sum of phi_j phi_j^T over the other `include`d rows j of i's group. In [0, 1]: 1 for a completion orthogonal to the
    rest of its group (or alone in it), near 0 for one its group already spans. NaN for rows not `include`d.

    Computed with the Woodbury identity on the group's Gram matrix G (m x m for the m other rows, never h x h):
    ridge * phi^T (Phi^T Phi + ridge I)^-1 phi = 1 - k^T (G + ridge I)^-1 k, where k = Phi phi.
    """
    phi = torch.nn.functional.normalize(features.double(), dim=-1)
    bonus = torch.full((features.size(0),), float("nan"), dtype=torch.float64)
    for start in range(0, features.size(0), group_size):
        rows = [start + i for i in range(group_size) if include[start + i]]
        for i in rows:
            others = phi[[j for j in rows if j != i]]
            k = others @ phi[i]
            gram = others @ others.T + ridge * torch.eye(len(others), dtype=torch.float64)
            explained = k @ torch.linalg.solve(gram, k) if len(others) else torch.tensor(0.0, dtype=torch.float64)
            bonus[i] = (1.0 - explained).clamp(0.0, 1.0).sqrt()
    return bonus.float()


BONUSES: dict[str, BonusFunction] = {
    "divergence": divergence_bonus,
    "representation": representation_bonus,
    "none": no_bonus,
}


def resolve_bonus(name: str, representation_ridge: float = 1.0) -> BonusFunction:
    """A built-in bonus by name (the representation bonus with its ridge), or a user's `BonusFunction` by dotted path
    (`package.module.function`)."""
    if name == "representation":
        return functools.partial(representation_bonus, ridge=representation_ridge)
    if name in BONUSES:
        return BONUSES[name]
    if "." not in name:
        raise UsageError(
            f"`exploration_bonus` must be one of {sorted(BONUSES)} or the dotted path of a function "
            f"(`package.module.function`), got {name!r}."
        )
    return import_callable(name, "exploration_bonus")
