"""LoRA on the colocated engine: TRL merges the adapter into the weights it pushes, so the engine samples from the
adapted policy after every optimizer step, and the base weights stay those of the checkpoint (up to the rounding of
TRL's in-place merge and unmerge)."""

import os

import torch
from helpers import arithmetic_dataset
from peft import LoraConfig
from probes import BF16_TOLERANCE, WeightSyncProbe, fixed_completion, vllm_trainer
from safetensors.torch import load_file


def test_the_engine_samples_from_the_adapted_policy_and_the_base_stays_frozen(
    tmp_path, tokenizer, encoder, tiny_model_dir, single_process_launcher
):
    lora = LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = vllm_trainer(
        tmp_path, tokenizer, encoder, tiny_model_dir, arithmetic_dataset(8), peft_config=lora,
        max_steps=3, learning_rate=5e-2,  # LoRA starts at zero (B = 0): a larger step moves the policy measurably
    )  # fmt: skip
    probe = WeightSyncProbe(trainer, *fixed_completion(tokenizer, "What is 3 + 4?", "The sum is \\boxed{7}."))
    trainer.train()
    trainer.vllm_generation.sync_weights()

    assert [r.step for r in probe.records] == [0, 1, 2, 3]
    assert all(r.engine_vs_policy < BF16_TOLERANCE for r in probe.records), probe.records
    assert probe.records[-1].policy_moved > 5 * BF16_TOLERANCE, probe.records  # a base-only engine would be off

    checkpoint = load_file(os.path.join(tiny_model_dir, "model.safetensors"))
    model = trainer.accelerator.unwrap_model(trainer.model)
    base = {
        name.removeprefix("base_model.model.").replace(".base_layer", ""): p
        for name, p in model.named_parameters()
        if "lora_" not in name
    }
    assert not any(p.requires_grad for p in base.values())
    # TRL merges the adapter into the base in place for each push and unmerges it after: W + dW - dW rounds, so the
    # base moves by at most about one unit in the last place per sync (measured: ~1 ulp on half of the elements after
    # 4 syncs), never by the training signal
    syncs = len(probe.records)
    for name, weight in checkpoint.items():
        drift = (base[name].detach() - weight).abs().max()
        assert drift <= syncs * torch.finfo(weight.dtype).eps * weight.abs().max(), name
