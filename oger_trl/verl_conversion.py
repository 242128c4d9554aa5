"""Coefficients of the authors' verl run (LUFFY's `mix_actor`) converted to TRL's loss normalisation.

A coefficient that weighs one loss term against another means the same thing in both frameworks only if both terms
are normalised alike. For the entropy bonus they are not. Per rank and optimizer step, with N sequences, L the response
length both pad to (verl's `max_response_length`, TRL's `max_completion_length` with `loss_type="dr_grpo"`):

    verl:  sum_i sum_t M l / L_verl          - c_verl * sum_{k=1..K} mean_k(H)      (K packed micro-batches, unscaled)
    TRL:   sum_i sum_t M l / (N * L_trl)     - c_trl  * (1/G) sum_{j=1..G} mean_j(H) (G accumulation micro-batches)

Scaling TRL's objective by N (Adam and a gradient clip see only relative weights, up to that one factor), the entropy
weight relative to the policy-gradient weight matches when c_trl = c_verl * K * L_verl / (N * L_trl), exactly when both
split the rows into the same micro-batches and approximately (a mean of micro-batch means) otherwise. verl's K is
`ceil(tokens per rank / ppo_max_token_len_per_gpu)` with dynamic batch sizes, so it follows the sequence lengths.
"""

import math

VERL_MAX_TOKENS_PER_GPU = 32768  # LUFFY/OGER launch: actor.ppo_max_token_len_per_gpu


def verl_micro_batches(
    sequences_per_rank: int, mean_sequence_tokens: float, max_tokens_per_gpu: int = VERL_MAX_TOKENS_PER_GPU
) -> int:
    """K: how many micro-batches verl's dynamic batching packs one rank's mini-batch into (prompt + response tokens)."""
    return max(1, math.ceil(sequences_per_rank * mean_sequence_tokens / max_tokens_per_gpu))


def trl_entropy_coef(
    verl_entropy_coeff: float,
    sequences_per_rank: int,
    verl_micro_batches_per_rank: int,
    verl_response_length: int,
    trl_max_completion_length: int,
) -> float:
    """TRL's `entropy_coef` (with `loss_type="dr_grpo"`) that gives the entropy bonus the weight, relative to the
    policy gradient, that `entropy_coeff` has in verl's `mix_actor`: c_verl * K * L_verl / (N * L_trl)."""
    return (
        verl_entropy_coeff
        * verl_micro_batches_per_rank
        * verl_response_length
        / (sequences_per_rank * trl_max_completion_length)
    )
