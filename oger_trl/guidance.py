"""RGPO (rationale-guided policy optimization) as pure functions: which groups failed, how a prompt gets its hint, and
which guided completions go back into the unguided group.

A group whose online completions all fail gives GRPO no signal. RGPO regenerates some of its completions with the
row's reference rationale appended to the prompt, and transfers the guided completions that beat the best online reward
back into the group, under the original prompt: the policy learns to reach the answer without the hint.
"""

import copy

import torch

DEFAULT_HINT_TEMPLATE = "\n\nHere is a reference solution to guide you:\n{rationale}"


def hinted_prompt(prompt: str | list[dict], rationale: str, template: str = DEFAULT_HINT_TEMPLATE):
    """The prompt with `template.format(rationale=...)` appended to its text (plain prompt) or to the content of its
    last user message (conversational prompt); the original is left untouched."""
    hint = template.format(rationale=rationale)
    if isinstance(prompt, str):
        return prompt + hint
    messages = copy.deepcopy(prompt)
    last_user = max(i for i, message in enumerate(messages) if message["role"] == "user")
    messages[last_user]["content"] += hint
    return messages


def failed_groups(verifiable: torch.Tensor, num_generations: int, threshold: float) -> torch.Tensor:
    """`(G,)` bool: the groups in which every completion was scored and none beat `threshold`."""
    grouped = verifiable.view(-1, num_generations)
    return (~torch.isnan(grouped)).all(1) & (grouped <= threshold).all(1)


def choose_transfers(
    guided_rows: torch.Tensor,
    guided_rewards: torch.Tensor,
    online_rewards: torch.Tensor,
    num_generations: int,
    max_per_group: int,
    threshold: float,
) -> list[int]:
    """Global rows whose guided completion replaces their failed online one: per group, the guided completions that beat
    both the best online reward and `threshold`, best first (ties: lowest row), at most `max_per_group`.

    Args:
        guided_rows: global row index of each guided completion (-1 for padding rows, ignored).
        guided_rewards: verifiable reward of each guided completion.
        online_rewards: `(B_global,)` verifiable rewards of the online completions.
    """
    best_online = online_rewards.view(-1, num_generations).max(1).values
    candidates: dict[int, list[tuple[float, int]]] = {}
    for row, reward in zip(guided_rows.tolist(), guided_rewards.tolist(), strict=True):
        group = row // num_generations
        if row >= 0 and reward == reward and reward > max(best_online[group].item(), threshold):  # NaN never wins
            candidates.setdefault(group, []).append((-reward, row))
    return sorted(row for group in candidates.values() for _, row in sorted(group)[:max_per_group])
