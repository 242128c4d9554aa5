"""The hybrid group (DESIGN.md section 1, step 3): in every group with teachers, exactly k online completions are
replaced, the k most teacher-like ones, by k distinct teacher completions that end with EOS and are scored by the
reward functions like any completion."""

from collections import Counter

import pytest
from helpers import (
    arithmetic_dataset,
    make_trainer,
    record_online_generation,
    reference_divergence,
    teacher_solutions,
    unpadded,
)

from oger_trl import SampleSource
from oger_trl.trainer import completion_text

N = 4


def generation_batch(trainer):
    trainer.model.train()
    return next(iter(trainer.get_train_dataloader()))


@pytest.mark.parametrize("k", [1, 2])
def test_each_group_with_teachers_gets_k_teachers_in_place_of_its_most_teacher_like_rows(
    tmp_path, tokenizer, encoder, k
):
    dataset = arithmetic_dataset(8, no_teacher_rows=(3, 6))
    trainer = make_trainer(
        tmp_path, tokenizer, encoder, dataset, num_offline_per_group=k, gradient_accumulation_steps=4
    )
    rows = generation_batch(trainer)  # 16 rows = 4 groups: a prompt repeated N times per group
    recorded, output = record_online_generation(trainer, rows)
    sources = output["sample_source"].tolist()
    eos = trainer.eos_token_ids
    groups_with_teachers = 0
    for g in range(len(rows) // N):
        members = range(g * N, (g + 1) * N)
        teachers = rows[g * N]["teacher_completions"]
        spliced = [i for i in members if sources[i] == SampleSource.TEACHER]
        if not teachers:
            assert spliced == []
            continue
        groups_with_teachers += 1
        online_texts = [completion_text(recorded["completions"][i]) for i in members]
        divergence = reference_divergence(encoder, online_texts, teachers)
        expected = sorted(sorted(range(N), key=lambda j: (divergence[j], j))[:k])
        assert [i - g * N for i in spliced] == expected
        spliced_texts = []
        for i in members:
            ids = unpadded(output["completion_ids"][i], output["completion_mask"][i])
            if i in spliced:
                assert ids[-1] in eos
                spliced_texts.append(tokenizer.decode(ids[:-1]))
            else:
                assert ids == recorded["completion_ids"][i]  # online rows are untouched
        assert len(set(spliced_texts)) == k and set(spliced_texts) <= set(teachers)
    assert groups_with_teachers >= 2


def test_teacher_rows_are_scored_by_the_reward_functions_and_get_no_bonus(tmp_path, tokenizer, encoder):
    trainer = make_trainer(tmp_path, tokenizer, encoder, num_offline_per_group=2, gradient_accumulation_steps=4)
    rows = generation_batch(trainer)
    record_online_generation(trainer, rows)
    logs = trainer._logs
    seen = Counter()
    for source, accuracy, bonus in zip(
        logs["extra"]["source"], logs["rewards"]["accuracy_reward"], logs["rewards"]["oger_exploration"], strict=True
    ):
        if source.startswith("teacher:"):
            seen[source] += 1
            assert bonus == 0.0
            assert accuracy == (0.0 if source == "teacher:carol" else 1.0)  # carol's answer is wrong: it scores 0
    assert seen["teacher:carol"] > 0 and seen["teacher:alice"] + seen["teacher:bob"] > 0


def test_teachers_longer_than_max_completion_length_are_never_spliced(tmp_path, tokenizer, encoder):
    (short,) = [t for t in teacher_solutions(1, 2)[0] if t.startswith("The total")]
    trainer = make_trainer(
        tmp_path, tokenizer, encoder, num_offline_per_group=2, gradient_accumulation_steps=2, max_completion_length=24
    )
    rows = generation_batch(trainer)
    record_online_generation(trainer, rows)
    sources = list(trainer._logs["extra"]["source"])
    assert sources.count("teacher:carol") == len(rows) // N  # only carol's short answer fits, once per group
    assert not {"teacher:alice", "teacher:bob"} & set(sources)
    assert trainer._metrics["train"]["oger/groups_short_of_teachers"] == [len(rows) // N]
    assert trainer._metrics["train"]["oger/splices/carol"] == [len(rows) // N]
    assert len(tokenizer(short, add_special_tokens=False)["input_ids"]) < 24


def test_random_strategy_replaces_the_same_slots_whatever_the_completions(tmp_path, tokenizer, encoder):
    decisions = []
    for model_seed in (0, 1):  # different policies, different completions
        trainer = make_trainer(
            tmp_path / str(model_seed),
            tokenizer,
            encoder,
            model_seed=model_seed,
            num_offline_per_group=1,
            replacement_strategy="random",
            gradient_accumulation_steps=4,
        )
        rows = generation_batch(trainer)
        _, output = record_online_generation(trainer, rows)
        decisions.append((output["sample_source"].tolist(), list(trainer._logs["extra"]["source"])))
        assert sum(decisions[-1][0]) == len(rows) // N
    assert decisions[0] == decisions[1]
    slots = [s.index(SampleSource.TEACHER) for s in (decisions[0][0][g * N : (g + 1) * N] for g in range(4))]
    assert len(set(slots)) > 1  # random slots, not always the same position


def test_sample_source_stays_aligned_through_trls_shuffle_and_split(tmp_path, tokenizer, encoder):
    trainer = make_trainer(tmp_path, tokenizer, encoder, num_offline_per_group=1, gradient_accumulation_steps=4)
    teacher_texts = {t for row in arithmetic_dataset(8) for t in row["teacher_completions"]}
    trainer.model.train()
    trainer._prepare_inputs(generation_batch(trainer))
    teacher_rows = 0
    for micro_batch in trainer._buffered_inputs:
        for i, source in enumerate(micro_batch["sample_source"].tolist()):
            ids = unpadded(micro_batch["completion_ids"][i], micro_batch["completion_mask"][i])
            is_teacher_text = tokenizer.decode(ids[:-1]) in teacher_texts
            assert is_teacher_text == (source == SampleSource.TEACHER)
            teacher_rows += source == SampleSource.TEACHER
    assert teacher_rows == 4
