"""OGERConfig documents every field and rejects what OGER cannot do with a message that says what to change; the
trainer rejects unsupported TRL inputs the same way."""

import pytest
from helpers import arithmetic_dataset, base_config_kwargs, build_model, letter_reward
from transformers import ProcessorMixin
from trl import GRPOConfig

from oger_trl import OGERConfig, OGERTrainer
from oger_trl.config import declared_fields

OGER_FIELDS = declared_fields(OGERConfig)


def config(tmp_path, **overrides):
    return OGERConfig(**base_config_kwargs(tmp_path, tmp_path / "cache", **overrides))


def test_every_oger_field_has_a_help_text_and_a_docstring_entry():
    names = {f.name for f in OGER_FIELDS}
    assert {
        "teacher_completions_column",
        "teacher_sources_column",
        "num_offline_per_group",
        "replacement_strategy",
        "exploration_coef",
        "entropy_modulation",
        "off_policy_shaping_gamma",
        "encoder_name_or_path",
        "encoder_max_length",
        "encoder_long_text",
        "encoder_batch_size",
        "teacher_cache_dir",
    } <= names
    for f in OGER_FIELDS:
        assert len(f.metadata.get("help", "")) > 30, f.name
        assert f"    {f.name} (`" in OGERConfig.__doc__, f.name


def test_defaults_follow_the_paper_where_oger_adds_something(tmp_path):
    args = config(tmp_path)
    assert (args.num_offline_per_group, args.replacement_strategy, args.exploration_coef) == (1, "similarity", 1.0)
    assert (args.entropy_modulation, args.off_policy_shaping_gamma) == ("exp_neg", 0.1)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            dict(multi_objective_aggregation="normalize_then_sum"),
            "Set `multi_objective_aggregation='sum_then_normalize'`",
        ),
        (dict(remove_unused_columns=True), "Set `remove_unused_columns=False`"),
        (dict(num_offline_per_group=4), r"must be in \[0, num_generations\) = \[0, 4\), got 4"),
        (dict(num_offline_per_group=-1), r"must be in \[0, num_generations\)"),
        (dict(replacement_strategy="closest"), r"`replacement_strategy` must be one of \['similarity', 'random'\]"),
        (dict(entropy_modulation="exp"), r"`entropy_modulation` must be one of \['exp_neg', 'none'\]"),
        (dict(encoder_long_text="chunk"), "`encoder_long_text` must be one of"),
        (dict(exploration_coef=-0.5), "Use 0 to disable the exploration reward"),
        (dict(off_policy_shaping_gamma=0.0), "must be > 0"),
        (dict(encoder_batch_size=0), "`encoder_batch_size` must be >= 1"),
        (dict(encoder_max_length=4), "`encoder_max_length` must be None or >= 8"),
        (dict(teacher_completions_column=""), "must name a dataset column"),
    ],
)
def test_unsupported_options_fail_with_what_to_change(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message):
        config(tmp_path, **overrides)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(tools=[len]), "does not support `tools` with OGER on.*switch OGER off"),
        (
            dict(rollout_func=lambda prompts, trainer: {}),
            "does not support `rollout_func` with OGER on.*switch OGER off",
        ),
        (dict(environment_factory=object), "does not support `environment_factory` with OGER on.*switch OGER off"),
        (dict(processing_class=ProcessorMixin.__new__(ProcessorMixin)), "supports text-only models"),
        (dict(args=GRPOConfig(output_dir="x", use_cpu=True, bf16=False)), "needs `args` to be an OGERConfig"),
    ],
)
def test_trainer_rejects_unsupported_inputs(tmp_path, tokenizer, encoder, kwargs, message):
    arguments = dict(
        reward_funcs=[letter_reward],
        args=config(tmp_path),
        train_dataset=arithmetic_dataset(4),
        processing_class=tokenizer,
        encoder=encoder,
    )
    arguments.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=message):
        OGERTrainer(build_model(tokenizer), **arguments)


def test_normalize_then_sum_is_refused_only_while_an_exploration_reward_column_exists(tmp_path):
    common = dict(output_dir=str(tmp_path), use_cpu=True, multi_objective_aggregation="normalize_then_sum")
    OGERConfig(**common, exploration_coef=0.0)  # no exploration column (LUFFY-style splice, or OGER off): TRL's choice
    OGERConfig(**common, exploration_bonus="none")
    with pytest.raises(ValueError, match="OGER needs `multi_objective_aggregation='sum_then_normalize'`"):
        OGERConfig(**common)
