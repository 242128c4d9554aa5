"""OGERTrainer stands in for GRPOTrainer: GRPO datasets, TRL's own validation and TRL's public reward attributes.

What TRL's GRPO test suite expects of a subclass (see tests/conformance): with OGER switched off a dataset without
teachers trains as GRPO and accepts GRPO's own rollouts (tools, environments, `rollout_func`; bit-exact:
test_parity.py), evaluation never needs teachers, TRL's messages reach the user, and `reward_funcs` /
`reward_processing_classes` / `reward_func_names` hold what the user passed.
"""

from types import SimpleNamespace

import pytest
import torch
from helpers import arithmetic_dataset, base_config_kwargs, build_model, letter_reward, make_trainer
from trl import GRPOConfig, GRPOTrainer

from oger_trl import OGERConfig, OGERTrainer
from oger_trl.trainer import EXPLORATION_REWARD_NAME


def _without_teachers(dataset):
    return dataset.remove_columns(["teacher_completions", "teacher_sources"])


def test_oger_on_refuses_a_dataset_without_teachers_and_says_how_to_turn_oger_off(tmp_path, tokenizer, encoder):
    with pytest.raises(ValueError) as error:
        make_trainer(tmp_path, tokenizer, encoder, dataset=_without_teachers(arithmetic_dataset(4)))
    message = str(error.value)
    assert "train_dataset has no column 'teacher_completions'" in message
    assert "set `num_offline_per_group=0` and `exploration_coef=0`" in message


@pytest.mark.parametrize(
    "switched_on", [dict(num_offline_per_group=1, exploration_coef=0.0), dict(num_offline_per_group=0)]
)
def test_either_half_of_oger_needs_the_teacher_column(tmp_path, tokenizer, encoder, switched_on):
    with pytest.raises(ValueError, match="has no column 'teacher_completions'"):
        make_trainer(tmp_path, tokenizer, encoder, dataset=_without_teachers(arithmetic_dataset(4)), **switched_on)


def test_oger_off_trains_a_dataset_without_teachers_and_reports_it(tmp_path, tokenizer, encoder, capsys):
    trainer = make_trainer(
        tmp_path,
        tokenizer,
        encoder,
        dataset=_without_teachers(arithmetic_dataset(4)),
        num_offline_per_group=0,
        exploration_coef=0.0,
        max_steps=1,
    )
    assert "train_dataset: 4 prompts, 0 teacher completions, 4 prompts without teachers" in capsys.readouterr().out
    trainer.train()
    logged = trainer.state.log_history[0]
    assert logged["oger/offline_frac"] == 0.0
    assert logged[f"rewards/{EXPLORATION_REWARD_NAME}/mean"] == 0.0


def test_evaluation_datasets_need_no_teachers(tmp_path, tokenizer, encoder):
    trainer = make_trainer(
        tmp_path,
        tokenizer,
        encoder,
        eval_dataset=_without_teachers(arithmetic_dataset(4, seed=1)),
        per_device_eval_batch_size=4,
    )
    metrics = trainer.evaluate()
    assert metrics["eval_oger/offline_frac"] == 0.0  # evaluation measures the policy: nothing is spliced
    assert metrics["eval_oger/divergence/mean"] is None  # no teachers to diverge from (NaN, logged as None)


def test_evaluation_datasets_with_teachers_are_still_checked(tmp_path, tokenizer, encoder):
    broken = arithmetic_dataset(4, seed=1).map(
        lambda row, i: {"teacher_completions": [""] if i == 2 else ["ok"]}, with_indices=True
    )
    with pytest.raises(ValueError, match=r"eval_dataset, row 3, column 'teacher_completions'"):
        make_trainer(tmp_path, tokenizer, encoder, eval_dataset=broken.remove_columns("teacher_sources"))


def test_public_reward_attributes_hold_what_the_user_passed(tmp_path, tokenizer, encoder):
    trainer = make_trainer(tmp_path, tokenizer, encoder, reward_funcs=[letter_reward], num_offline_per_group=0)
    assert trainer.reward_funcs == [letter_reward]
    assert trainer.reward_func_names == ["letter_reward"]
    assert trainer.reward_processing_classes == [None]
    assert trainer.reward_weights.tolist() == [1.0, 1.0]  # the user's weight, then the exploration column's
    trainer.train()
    logged = trainer.state.log_history[0]
    for key in ("rewards/letter_reward/mean", f"rewards/{EXPLORATION_REWARD_NAME}/mean"):
        assert key in logged
    # the completion table keeps a column per reward, the exploration reward included
    assert len(trainer._logs["rewards"][EXPLORATION_REWARD_NAME]) == len(trainer._logs["rewards"]["letter_reward"])


def test_a_single_reward_processing_class_is_kept_as_given(tmp_path, tokenizer, encoder):
    trainer = OGERTrainer(
        build_model(tokenizer),
        reward_funcs=letter_reward,
        args=OGERConfig(**base_config_kwargs(tmp_path / "out", tmp_path / "cache")),
        train_dataset=arithmetic_dataset(4),
        processing_class=tokenizer,
        reward_processing_classes=tokenizer,
        encoder=encoder,
    )
    assert trainer.reward_processing_classes == [tokenizer]


def test_trl_validates_first_with_its_own_messages(tmp_path, tokenizer, encoder):
    def build(trainer_class, config_class, **kwargs):
        args = config_class(output_dir=str(tmp_path), use_cpu=True, bf16=False, report_to="none")
        return trainer_class(build_model(tokenizer), args=args, processing_class=tokenizer, **kwargs)

    for kwargs, message in (
        (dict(train_dataset=arithmetic_dataset(4)), "No reward source provided"),
        (dict(reward_funcs=[letter_reward]), "`train_dataset` is required"),
        (
            dict(
                reward_funcs=[letter_reward, letter_reward],
                reward_processing_classes=[None],
                train_dataset=arithmetic_dataset(4),
            ),
            "must match",
        ),
    ):
        with pytest.raises(ValueError, match=message):
            build(GRPOTrainer, GRPOConfig, **kwargs)  # what TRL says ...
        with pytest.raises(ValueError, match=message):
            build(OGERTrainer, OGERConfig, encoder=encoder, **kwargs)  # ... OGER says too


def test_a_rollout_func_reaches_trl_when_init_is_bypassed():
    trainer = object.__new__(OGERTrainer)  # how TRL's dispatch tests build a trainer: TRL's own checks answer
    trainer.rollout_func = lambda prompts, trainer: {"prompt_ids": [[1]], "completion_ids": [[2]]}
    trainer.args = SimpleNamespace(report_to=[])
    trainer.accelerator = SimpleNamespace(device=torch.device("cpu"))
    trainer.model = SimpleNamespace(training=True)
    trainer.use_vllm = False
    with pytest.raises(ValueError, match=r"rollout_func must return keys \['logprobs'\]"):
        trainer._generate(["prompt"])


def test_remove_unused_columns_is_refused_only_while_teachers_are_used(tmp_path):
    common = dict(output_dir=str(tmp_path), use_cpu=True, bf16=False, remove_unused_columns=True)
    OGERConfig(**common, num_offline_per_group=0, exploration_coef=0.0)
    with pytest.raises(ValueError, match="needs `remove_unused_columns=False`"):
        OGERConfig(**common)


@pytest.mark.parametrize(
    "on",
    [
        dict(exploration_coef=1.0, exploration_bonus="representation"),  # a bonus that needs no teachers is still OGER
        dict(self_teachers=2),
        dict(guidance=True),
    ],
)
def test_grpo_only_rollouts_are_refused_whenever_any_part_of_oger_is_on(tmp_path, on):
    off = dict(num_offline_per_group=0, exploration_coef=0.0)
    args = OGERConfig(str(tmp_path), use_cpu=True, bf16=False, **{**off, **on})
    assert args.oger_active
    with pytest.raises(ValueError, match="does not support `rollout_func` with OGER on"):
        OGERTrainer("unused", args=args, rollout_func=lambda prompts, trainer: {})


def test_the_exploration_column_exists_only_when_the_reward_can_be_non_zero(tmp_path, tokenizer, encoder):
    off = make_trainer(tmp_path / "off", tokenizer, encoder, reward_funcs=[letter_reward], exploration_coef=0.0)
    assert off.exploration_column is None and off.reward_weights.tolist() == [1.0]  # TRL's weights, as GRPO has them
    decaying_up = make_trainer(
        tmp_path / "up",
        tokenizer,
        encoder,
        reward_funcs=[letter_reward],
        exploration_coef=0.0,
        exploration_coef_schedule="linear",
        exploration_coef_final=0.5,
    )
    assert decaying_up.reward_weights.tolist() == [1.0, 1.0]
    off.train()
    assert off.state.log_history[0][f"rewards/{EXPLORATION_REWARD_NAME}/mean"] == 0.0  # still logged, as a column
