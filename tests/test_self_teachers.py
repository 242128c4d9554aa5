"""The self-teacher pool: which completions a prompt keeps, and that a checkpoint holds it exactly."""

import math

import pytest
import torch
from datasets import concatenate_datasets
from helpers import arithmetic_dataset, base_config_kwargs, build_model, letter_reward, recording_trainer_class

from oger_trl import OGERConfig
from oger_trl.self_teachers import POOL_FILE, SelfCompletion, SelfTeacherPool, kept_completions, prompt_key


def entry(text: str, divergence: float = 0.5, step: int = 0) -> SelfCompletion:
    return SelfCompletion(text, torch.full((3,), float(len(text))), divergence, step)


def texts(entries) -> list[str]:
    return [e.text for e in entries]


def test_latest_keeps_the_most_recent_and_skips_texts_already_kept():
    existing = [entry("a", step=0), entry("b", step=1)]
    new = [entry("b", step=2), entry("c", step=2), entry("d", step=2)]
    assert texts(kept_completions(existing, new, 3, "latest")) == ["b", "c", "d"]
    assert texts(kept_completions(existing, new, 5, "latest")) == ["a", "b", "c", "d"]  # "b" is not kept twice


def test_most_divergent_keeps_the_highest_divergence_ties_to_the_more_recent_nan_last():
    existing = [entry("a", 0.9), entry("b", 0.2), entry("n", float("nan"))]
    new = [entry("c", 0.5), entry("d", 0.2)]
    assert texts(kept_completions(existing, new, 2, "most_divergent")) == ["a", "c"]
    assert texts(kept_completions(existing, new, 3, "most_divergent")) == ["a", "c", "d"]  # d ties b, and is newer
    assert texts(kept_completions(existing, new, 5, "most_divergent")) == ["a", "b", "n", "c", "d"]  # batch order


def test_the_pool_keys_prompts_by_content_and_counts_its_entries():
    pool = SelfTeacherPool(2, "latest")
    chat = [{"role": "user", "content": "What is 1 + 1?"}]
    pool.add([chat, "plain", chat, chat], [entry("x"), entry("y"), entry("z"), entry("w")])
    assert texts(pool.of([{"content": "What is 1 + 1?", "role": "user"}])) == ["z", "w"]  # key order does not matter
    assert texts(pool.of("plain")) == ["y"] and pool.of("unseen") == []
    assert len(pool) == 3
    assert prompt_key(chat) == prompt_key([dict(reversed(list(chat[0].items())))])


def test_a_saved_pool_loads_back_exactly(tmp_path):
    pool = SelfTeacherPool(3, "most_divergent")
    torch.manual_seed(0)
    completions = [SelfCompletion(t, torch.randn(4), d, s) for t, d, s in (("p", 0.1, 1), ("q", float("nan"), 2))]
    pool.add(["one", [{"role": "user", "content": "two"}]], completions)
    pool.save(str(tmp_path))
    loaded = SelfTeacherPool(3, "most_divergent")
    loaded.load(str(tmp_path))
    assert loaded.entries.keys() == pool.entries.keys()
    for key, entries in pool.entries.items():
        for a, b in zip(entries, loaded.entries[key], strict=True):
            assert (a.text, a.step) == (b.text, b.step)
            assert a.divergence == b.divergence or (math.isnan(a.divergence) and math.isnan(b.divergence))
            assert torch.equal(a.embedding, b.embedding)


def test_an_empty_pool_saves_and_a_checkpoint_without_a_pool_loads_as_empty(tmp_path):
    SelfTeacherPool(1, "latest").save(str(tmp_path))
    assert (tmp_path / POOL_FILE).exists()
    loaded = SelfTeacherPool(1, "latest")
    loaded.add(["p"], [entry("x")])
    loaded.load(str(tmp_path))
    assert len(loaded) == 0
    loaded.add(["p"], [entry("x")])
    loaded.load(str(tmp_path / "no-pool-here"))
    assert len(loaded) == 0


def test_pool_settings_are_validated(tmp_path):
    with pytest.raises(ValueError, match="`self_teachers` must be >= 0"):
        OGERConfig(str(tmp_path), use_cpu=True, self_teachers=-1)
    with pytest.raises(ValueError, match="`self_teacher_selection` must be one of"):
        OGERConfig(str(tmp_path), use_cpu=True, self_teachers=2, self_teacher_selection="oldest")


class FinishedAnswers(recording_trainer_class()):
    """Every completion ends with EOS (the random tiny policy rarely does): row i of step t answers "apples t i", which
    `letter_reward` rewards; the last row of each group stops short (no EOS), so it never joins the pool. `prompts`
    records the prompt of each generation batch."""

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        self.prompts = [*getattr(self, "prompts", []), self._tokenizer.decode(prompt_ids[0])]
        eos = self.eos_token_ids[0]
        completions = []
        for i in range(len(prompt_ids)):
            ids = self._tokenizer(f"apples {self.state.global_step} {i}", add_special_tokens=False)["input_ids"]
            completions.append(ids if i % num_generations == num_generations - 1 else [*ids, eos])
        return completions, None


def pool_trainer(tmp_path, tokenizer, encoder, output_dir, **overrides):
    """Two prompts without dataset teachers, each twice in the one epoch, one prompt per generation batch: a prompt's
    second batch meets the pool its first batch filled (one epoch: a resume continues the same data order)."""
    kwargs = dict(max_steps=4, self_teachers=2, num_offline_per_group=1, save_strategy="steps", save_steps=2)
    args = OGERConfig(**base_config_kwargs(output_dir, tmp_path / "cache", **{**kwargs, **overrides}))
    prompts = arithmetic_dataset(2, no_teacher_rows=(0, 1))
    return FinishedAnswers(
        build_model(tokenizer),
        reward_funcs=[letter_reward],
        args=args,
        train_dataset=concatenate_datasets([prompts, prompts]),
        processing_class=tokenizer,
        encoder=encoder,
    )


def test_correct_finished_completions_join_their_prompts_teachers_and_are_spliced(tmp_path, tokenizer, encoder):
    trainer = pool_trainer(tmp_path, tokenizer, encoder, tmp_path / "run")
    trainer.train()
    assert len(trainer.prompts) == 4 and len(set(trainer.prompts)) == 2
    for t, batch in enumerate(trainer.batches):
        earlier = [b for b, p in zip(trainer.batches[:t], trainer.prompts, strict=False) if p == trainer.prompts[t]]
        if not earlier:  # no dataset teachers and nothing in the pool yet: nothing to splice
            assert batch["sources"] == ["policy"] * 4
            continue
        assert batch["sources"].count("teacher:self") == 1  # one row of the group is a self-teacher ...
        spliced = batch["completions"][batch["sources"].index("teacher:self")]
        assert spliced in [c for b in earlier for c in b["completions"][:3]]  # ... a finished earlier answer to it
    assert all(len(entries) <= 2 for entries in trainer.self_teachers.entries.values())
    assert len(trainer.self_teachers) == 4  # 2 prompts x capacity 2 (3 finished answers offered per batch)
    logged = [h["oger/self_teachers"] for h in trainer.state.log_history if "oger/self_teachers" in h]
    assert logged == sorted(logged) and logged[0] == 2 and logged[-1] == 4


def test_a_resumed_run_restores_the_pool_and_continues_exactly(tmp_path, tokenizer, encoder):
    full = pool_trainer(tmp_path, tokenizer, encoder, tmp_path / "full")
    full.train()
    assert (tmp_path / "full" / "checkpoint-2" / POOL_FILE).exists()
    resumed = pool_trainer(tmp_path, tokenizer, encoder, tmp_path / "full")
    resumed.train(resume_from_checkpoint=str(tmp_path / "full" / "checkpoint-2"))
    assert [b["step"] for b in resumed.batches] == [2, 3]
    for expected, got in zip(full.batches[2:], resumed.batches, strict=True):
        assert got["sources"] == expected["sources"]
        assert got["completions"] == expected["completions"]
        for name, values in expected["rewards"].items():
            assert got["rewards"][name] == pytest.approx(values, abs=1e-7), name
    assert any("teacher:self" in b["sources"] for b in resumed.batches)  # the restored pool was used
    assert resumed.self_teachers.entries.keys() == full.self_teachers.entries.keys()
    for key, entries in full.self_teachers.entries.items():
        assert texts(resumed.self_teachers.entries[key]) == texts(entries)
