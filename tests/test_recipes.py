"""Every recipe parses with the project's parser; the paper recipe holds the paper's settings; each baseline or
ablation differs from it exactly where its name says."""

import dataclasses
import glob
import os

import pytest

from oger_trl.train import make_parser
from oger_trl.verl_conversion import trl_entropy_coef, verl_micro_batches

RECIPES = os.path.join(os.path.dirname(__file__), "..", "recipes")
PAPER = os.path.join(RECIPES, "Qwen2.5-Math-1.5B", "oger", "config_paper.yaml")
ALL = sorted(glob.glob(os.path.join(RECIPES, "*", "oger", "config_*.yaml")))


def parse(path: str):
    # This machine has no GPU: `use_cpu` lets TrainingArguments accept the recipes' bf16 while every field is checked
    script, training, model, _ = make_parser().parse_args_and_config(args=["--config", path, "--use_cpu", "true"])
    return script, training, model


def test_the_expected_recipes_exist():
    names = {os.path.relpath(p, RECIPES) for p in ALL}
    expected = {f"Qwen2.5-Math-1.5B/oger/config_{n}.yaml" for n in ("paper", "grpo", "luffy", "entropy")} | {
        "Qwen2.5-Math-1.5B/oger/config_oger_no_entropy.yaml",
        "Qwen2.5-Math-1.5B/oger/config_oger_single_teacher.yaml",
        "Qwen2.5-Math-1.5B/oger/config_rgpo.yaml",
        "Qwen2.5-Math-1.5B/oger/config_oger_rgpo.yaml",
        "Qwen2.5-Math-7B/oger/config_paper.yaml",
        "Qwen2.5-0.5B-Instruct/oger/config_lora_1gpu.yaml",
        "SmolLM2-135M-Instruct/oger/config_cpu.yaml",
    }
    assert expected <= names


@pytest.mark.parametrize("path", ALL, ids=lambda p: os.path.relpath(p, RECIPES))
def test_every_recipe_parses(path):
    script, training, model = parse(path)
    assert script.reward_funcs and model.model_name_or_path and training.output_dir


@pytest.mark.parametrize("path", [PAPER, os.path.join(RECIPES, "Qwen2.5-Math-7B", "oger", "config_paper.yaml")])
def test_paper_recipes_hold_the_papers_settings(path):
    _, t, _ = parse(path)
    assert (t.num_generations, t.num_offline_per_group, t.replacement_strategy) == (8, 1, "similarity")
    assert (t.exploration_coef, t.entropy_modulation, t.off_policy_shaping_gamma) == (1.0, "exp_neg", 0.1)
    assert (t.loss_type, t.scale_rewards, t.beta) == ("dr_grpo", "none", 0.0)
    assert (t.temperature, t.learning_rate, t.max_completion_length) == (1.0, 1e-6, 8192)
    assert t.epsilon == 1.0 and t.epsilon_high >= 1e9  # unclipped on-policy term
    assert (t.weight_decay, t.max_grad_norm, t.lr_scheduler_type, t.warmup_steps) == (0.01, 1.0, "constant", 0)
    processes = 8
    prompts_per_generation = t.per_device_train_batch_size * processes * t.steps_per_generation // t.num_generations
    assert prompts_per_generation == 128
    assert t.steps_per_generation // t.gradient_accumulation_steps == 2  # optimizer steps per generation batch
    assert t.max_steps == 2 * 2000  # the paper's 2000 rollout steps
    assert t.use_vllm and t.vllm_mode == "colocate"
    assert not t.vllm_importance_sampling_correction  # the verl run had none


@pytest.mark.parametrize("path", [PAPER, os.path.join(RECIPES, "Qwen2.5-Math-7B", "oger", "config_paper.yaml")])
def test_paper_recipes_carry_the_verl_entropy_coefficient_converted_for_their_geometry(path):
    _, t, _ = parse(path)
    sequences_per_gpu = t.per_device_train_batch_size * t.gradient_accumulation_steps
    assert sequences_per_gpu == 64  # verl: ppo_mini_batch_size 64 prompts x 8 / 8 GPUs
    k = verl_micro_batches(sequences_per_gpu, mean_sequence_tokens=2048)
    assert t.entropy_coef == pytest.approx(
        trl_entropy_coef(0.001, sequences_per_gpu, k, 8192, t.max_completion_length)
    )


ABLATIONS = {
    "grpo": {"num_offline_per_group": 0, "exploration_coef": 0.0, "entropy_coef": 0.0},
    "luffy": {"replacement_strategy": "random", "exploration_coef": 0.0},
    "entropy": {"num_offline_per_group": 0, "exploration_coef": 0.0, "entropy_coef": 3.125e-4},  # 0.005 in verl
    "oger_no_entropy": {"entropy_modulation": "none"},
    "oger_single_teacher": {"teachers": ["deepseek-r1"]},
    "rgpo": {"num_offline_per_group": 0, "exploration_coef": 0.0, "entropy_coef": 0.0, "guidance": True},
    "oger_rgpo": {"guidance": True},
}
BOOKKEEPING = {"output_dir", "hub_model_id", "logging_dir", "run_name"}


@pytest.mark.parametrize("name", list(ABLATIONS))
def test_each_ablation_changes_only_what_its_name_says(name):
    paper = dataclasses.asdict(parse(PAPER)[1])
    variant = dataclasses.asdict(parse(os.path.join(RECIPES, "Qwen2.5-Math-1.5B", "oger", f"config_{name}.yaml"))[1])
    changed = {k: v for k, v in variant.items() if paper.get(k) != v and k not in BOOKKEEPING}
    assert changed == ABLATIONS[name]
