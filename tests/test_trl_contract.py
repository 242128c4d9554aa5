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
    "_save_rng_state": ["self", "output_dir"],  # transformers' Trainer: the self-teacher pool is saved with it
    "_save": ["self", "output_dir", "state_dict"],  # transformers' Trainer: saved files follow the umask
    "_get_train_sampler": ["self", "dataset"],  # advanced past the epochs a resumed checkpoint finished
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
        "_save_rng_state",
        "_save",
        "_get_train_sampler",
    }


def test_generate_returns_what_generation_output_names():
    # OGER reads TRL's `_generate` output by name (`GenerationOutput`); TRL returns a plain tuple, so its return
    # statements must list the same fields in the same order.
    from oger_trl.batch import GenerationOutput

    source = inspect.getsource(GRPOTrainer._generate)
    returns = [line.strip()[len("return ") :] for line in source.splitlines() if line.strip().startswith("return ")]
    assert returns and all(r.replace(" ", "").split(",") == list(GenerationOutput._fields) for r in returns), returns
