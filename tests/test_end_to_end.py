"""A few real training steps: tiny Qwen2 policy, the real MiniLM encoder, train and eval, completion logging."""

import glob
import math

import pandas as pd
import torch
from helpers import arithmetic_dataset, build_model, make_trainer

OGER_METRICS = [
    "oger/divergence/mean",
    "oger/divergence/spliced_mean",
    "oger/entropy_last/mean",
    "oger/exploration_reward/mean",
    "oger/offline_frac",
    "oger/offline_reward/mean",
    "oger/groups_without_teachers",
    "oger/groups_short_of_teachers",
    "oger/shaping_loss",
    "rewards/oger_exploration/mean",
]


def test_training_runs_logs_every_oger_metric_and_extends_the_completion_table(tmp_path, tokenizer, encoder):
    trainer = make_trainer(
        tmp_path,
        tokenizer,
        encoder,
        dataset=arithmetic_dataset(8, no_teacher_rows=(2,)),
        max_steps=4,
        gradient_accumulation_steps=2,
        log_completions=True,
        eval_strategy="steps",
        eval_steps=2,
        per_device_eval_batch_size=4,
        num_generations_eval=4,
        eval_dataset=arithmetic_dataset(2, seed=5),
    )
    initial = build_model(tokenizer).state_dict()
    trainer.train()

    changed = [n for n, p in trainer.model.named_parameters() if not torch.equal(p.detach(), initial[n])]
    assert len(changed) == len(list(trainer.model.parameters()))  # every parameter moved

    train_logs = [h for h in trainer.state.log_history if "loss" in h]
    assert len(train_logs) == 4
    for name in OGER_METRICS:
        values = [h.get(name) for h in train_logs]
        assert all(v is not None and math.isfinite(v) for v in values), (name, values)
    for h in train_logs:  # k = 1 of N = 4 rows in every group with teachers; 2 groups per generation batch
        assert h["oger/offline_frac"] == 0.25 * (2 - h["oger/groups_without_teachers"]) / 2
    assert sum(h["oger/groups_without_teachers"] for h in train_logs) >= 1  # the prompt without teachers was seen
    splice_counts = [sum(v for k, v in h.items() if k.startswith("oger/splices/")) for h in train_logs]
    assert all(count >= 1 for count in splice_counts)

    eval_logs = [h for h in trainer.state.log_history if "eval_loss" in h]
    assert len(eval_logs) == 2
    for h in eval_logs:
        assert h["eval_oger/offline_frac"] == 0.0  # evaluation measures the policy: nothing is spliced
        assert math.isfinite(h["eval_oger/divergence/mean"]) and math.isfinite(h["eval_oger/entropy_last/mean"])

    tables = sorted(glob.glob(str(tmp_path / "out" / "completions" / "*.parquet")))
    assert tables
    for path in tables:
        table = pd.read_parquet(path)
        assert {"source", "divergence", "entropy_last", "finished", "oger_exploration"} <= set(table.columns)
        teacher = table["source"].str.startswith("teacher:")
        assert set(table["source"]) <= {"policy", "teacher:alice", "teacher:bob", "teacher:carol"}
        assert table.loc[teacher, ["divergence", "entropy_last"]].isna().all().all()
        assert table.loc[~teacher, "entropy_last"].notna().all()
        assert (table.loc[teacher, "oger_exploration"] == 0).all()
        assert table["finished"].dtype == bool and table.loc[teacher, "finished"].all()  # spliced with their EOS
