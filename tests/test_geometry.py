"""Every batch geometry TRL allows: the splice, the rewards and the loss flags survive gradient accumulation,
several steps per generation, an explicit generation batch size, several iterations per batch and evaluation."""

import pytest
from helpers import arithmetic_dataset, make_trainer, unpadded

from oger_trl import SampleSource

N = 4
# Each runs whole generation batches: max_steps * gradient_accumulation_steps micro-steps, a multiple of
# steps_per_generation * num_iterations.
GEOMETRIES = {
    "accumulation": dict(per_device_train_batch_size=4, gradient_accumulation_steps=3, max_steps=2),
    "steps_per_generation": dict(
        per_device_train_batch_size=4, gradient_accumulation_steps=1, steps_per_generation=3, max_steps=3
    ),
    "generation_batch_size": dict(
        per_device_train_batch_size=2, gradient_accumulation_steps=2, generation_batch_size=8, max_steps=2
    ),
    "iterations": dict(per_device_train_batch_size=4, gradient_accumulation_steps=2, num_iterations=2, max_steps=2),
}


def teacher_texts() -> set[str]:
    return {t for row in arithmetic_dataset(8) for t in row["teacher_completions"]}


@pytest.mark.parametrize("name", list(GEOMETRIES))
def test_every_geometry_splices_once_per_group_and_keeps_flags_aligned(tmp_path, tokenizer, encoder, name):
    trainer = make_trainer(tmp_path, tokenizer, encoder, **GEOMETRIES[name])
    generation_batch = trainer.args.generation_batch_size
    served = []
    original = trainer._compute_loss

    def recording_loss(model, inputs):
        teachers = teacher_texts()
        for i, source in enumerate(inputs["sample_source"].tolist()):
            ids = unpadded(inputs["completion_ids"][i], inputs["completion_mask"][i])
            assert (tokenizer.decode(ids[:-1]) in teachers) == (source == SampleSource.TEACHER)
        served.append(inputs["sample_source"].tolist())
        return original(model, inputs)

    trainer._compute_loss = recording_loss
    trainer.train()

    sources = list(trainer._logs["extra"]["source"])[-generation_batch:]
    for g in range(generation_batch // N):
        assert sum(s != "policy" for s in sources[g * N : (g + 1) * N]) == 1
    micro_steps = trainer.args.max_steps * trainer.args.gradient_accumulation_steps
    assert len(served) == micro_steps
    rows_per_generation = generation_batch // N  # one teacher row per group
    per_generation = trainer.args.steps_per_generation * trainer.num_iterations
    for start in range(0, micro_steps, per_generation):
        window = served[start : start + per_generation]
        assert sum(map(sum, window)) == rows_per_generation * trainer.num_iterations
    if name == "iterations":  # the buffered batch is served again, flags included
        assert served[0:2] == served[2:4]
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == trainer.args.max_steps


def test_evaluation_with_its_own_group_size(tmp_path, tokenizer, encoder):
    trainer = make_trainer(
        tmp_path,
        tokenizer,
        encoder,
        eval_dataset=arithmetic_dataset(4, seed=9),
        per_device_eval_batch_size=4,
        num_generations_eval=2,
        eval_strategy="no",
        log_completions=True,
    )
    metrics = trainer.evaluate()
    assert metrics["eval_oger/offline_frac"] == 0.0
    assert metrics["eval_oger/groups_without_teachers"] == 0.0
    assert 0.0 <= metrics["eval_oger/divergence/mean"] <= 1.0
    sources = list(trainer._logs["extra"]["source"])
    assert sources and set(sources) == {"policy"}
    assert len(sources) == len(trainer._logs["prompt"]) == len(trainer._logs["extra"]["entropy_last"])
