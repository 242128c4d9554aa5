"""The TRL internals OGER hooks, as they are in the pinned TRL 1.16: a TRL upgrade that moves them fails here first,
with the name of what moved, instead of misbehaving during training."""

import inspect

import pytest
from trl import GRPOTrainer

from oger_trl import OGERTrainer

HOOKS = {
    "_generate": ["self", "prompts"],
    "_generate_and_score_completions": ["self", "inputs"],
    "_calculate_rewards": ["self", "inputs", "prompts", "completions", "completion_ids_list"],
    "_compute_loss": ["self", "model", "inputs"],
    "_get_per_token_logps_and_entropies": [
        "self",
        "model",
        "input_ids",
        "attention_mask",
        "logits_to_keep",
        "batch_size",
        "compute_entropy",
    ],
    "_generate_single_turn": ["self", "prompt_ids", "images", "multimodal_fields", "num_generations"],
    "_tokenize_prompts": ["self", "prompts"],
}


@pytest.mark.parametrize("name", list(HOOKS))
def test_hooked_trl_methods_keep_their_signatures(name):
    parameters = list(inspect.signature(getattr(GRPOTrainer, name)).parameters)
    assert parameters[: len(HOOKS[name])] == HOOKS[name]


def test_oger_overrides_only_the_documented_hooks():
    overridden = {
        name
        for name, value in vars(OGERTrainer).items()
        if callable(value) and name.startswith("_") and not name.startswith("__") and hasattr(GRPOTrainer, name)
    }
    assert overridden == {
        "_generate",
        "_generate_and_score_completions",
        "_calculate_rewards",
        "_compute_loss",
        "_get_per_token_logps_and_entropies",
    }
