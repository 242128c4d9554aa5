"""Teacher embeddings are computed once per (encoder, settings, data), stored atomically, verified, memory-mapped, and
rebuilt when stale or corrupt."""

import logging
import os

import numpy as np
import pytest
import torch
from helpers import arithmetic_dataset, make_trainer

from oger_trl import SentenceEncoder, TeacherEmbeddings
from oger_trl.teacher_cache import CorruptCacheError, cache_key, load_table, text_digests, unique_sorted

COLUMN = "teacher_completions"


def all_teacher_texts(dataset) -> list[str]:
    return sorted({t for row in dataset for t in row[COLUMN]})


def build(encoder, cache_dir, dataset):
    store = TeacherEmbeddings(encoder, str(cache_dir))
    before = encoder.num_texts_encoded
    path = store.add_dataset(dataset, COLUMN)
    return store, path, encoder.num_texts_encoded - before


def test_first_run_encodes_each_distinct_text_once_and_later_runs_only_load(tmp_path, encoder):
    dataset = arithmetic_dataset(6)
    texts = all_teacher_texts(dataset)
    _store, path, encoded = build(encoder, tmp_path, dataset)
    assert encoded == len(texts)
    assert os.path.basename(path).startswith("teachers-") and path.endswith(".safetensors")
    assert os.listdir(tmp_path) == [os.path.basename(path)]  # the atomic write left no temporary file

    again, same_path, encoded_again = build(encoder, tmp_path, dataset.shuffle(seed=3))
    assert same_path == path and encoded_again == 0
    assert isinstance(again.tables[0].embeddings, np.memmap)
    before = encoder.num_texts_encoded
    looked_up = again.lookup(texts)
    assert encoder.num_texts_encoded == before  # served from the file
    torch.testing.assert_close(looked_up, encoder.encode(texts))


def test_texts_outside_the_cache_are_encoded_once_and_memoised(tmp_path, encoder):
    store, _, _ = build(encoder, tmp_path, arithmetic_dataset(2))
    before = encoder.num_texts_encoded
    first = store.lookup(["an unseen teacher answer", "another one"])
    second = store.lookup(["another one"])
    assert encoder.num_texts_encoded - before == 2
    torch.testing.assert_close(second[0], first[1])


@pytest.mark.parametrize("damage", ["flip_payload_byte", "truncate", "garbage_header"])
def test_a_corrupt_cache_is_detected_and_rebuilt(tmp_path, encoder, caplog, damage):
    dataset = arithmetic_dataset(4)
    _, path, _ = build(encoder, tmp_path, dataset)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        if damage == "flip_payload_byte":
            f.seek(size - 100)
            byte = f.read(1)
            f.seek(size - 100)
            f.write(bytes([byte[0] ^ 0xFF]))
        elif damage == "truncate":
            f.truncate(size - 64)
        else:
            f.write(b"\xff" * 16)
    with caplog.at_level(logging.WARNING, logger="oger_trl.teacher_cache"):
        _store, rebuilt_path, encoded = build(encoder, tmp_path, dataset)
    assert rebuilt_path == path
    assert encoded == len(all_teacher_texts(dataset))
    assert "rebuilding" in caplog.text
    digests = unique_sorted(text_digests(all_teacher_texts(dataset)))
    load_table(path, cache_key(encoder.fingerprint, digests), encoder.dim)  # the rebuilt file verifies


def test_a_cache_written_for_other_data_is_never_used(tmp_path, encoder, caplog):
    dataset, other = arithmetic_dataset(4, seed=0), arithmetic_dataset(4, seed=1)
    _, path, _ = build(encoder, tmp_path / "a", dataset)
    _, other_path, _ = build(encoder, tmp_path / "b", other)
    os.replace(other_path, path)  # a stale file sitting where this dataset's cache belongs
    with caplog.at_level(logging.WARNING, logger="oger_trl.teacher_cache"):
        _, _, encoded = build(encoder, tmp_path / "a", dataset)
    assert encoded == len(all_teacher_texts(dataset))
    assert "another encoder, setting or dataset" in caplog.text
    with pytest.raises(CorruptCacheError):
        load_table(path, "0" * 64, encoder.dim)


def test_changing_the_data_or_the_encoder_invalidates_the_cache(tmp_path, encoder):
    dataset = arithmetic_dataset(4)
    _, path, _ = build(encoder, tmp_path, dataset)

    edited = dataset.map(lambda row, i: {COLUMN: [*row[COLUMN][:-1], f"edited {i}"]}, with_indices=True)
    _, edited_path, encoded = build(encoder, tmp_path, edited)
    assert edited_path != path and encoded == len(all_teacher_texts(edited))

    shorter = SentenceEncoder(max_length=64)
    assert shorter.fingerprint != encoder.fingerprint
    _, shorter_path, encoded = build(shorter, tmp_path, dataset)
    assert shorter_path not in (path, edited_path) and encoded == len(all_teacher_texts(dataset))


def test_a_second_trainer_loads_teacher_embeddings_without_encoding(tmp_path, tokenizer, encoder):
    make_trainer(tmp_path, tokenizer, encoder)
    before = encoder.num_texts_encoded
    trainer = make_trainer(tmp_path, tokenizer, encoder)
    assert encoder.num_texts_encoded == before
    assert len(trainer.teacher_embeddings.tables) == 1
