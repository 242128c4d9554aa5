"""The per-batch context: current only while its batch is generated and scored, gone afterwards even when the batch
fails, and each row's origin decided once, with the completion table's label derived from it."""

import pytest

from oger_trl.batch import GUIDED, POLICY, RowOrigin, SampleSource, current_batch, open_batch


def test_the_context_lives_exactly_as_long_as_its_batch():
    assert current_batch() is None
    with open_batch([{"prompt": "p"}]) as batch:
        assert current_batch() is batch and batch.rows == [{"prompt": "p"}]
        with open_batch([]) as inner:  # a nested batch (e.g. another trainer) does not clobber the outer one
            assert current_batch() is inner
        assert current_batch() is batch
    assert current_batch() is None


def test_a_failing_batch_leaves_no_context_behind():
    with pytest.raises(RuntimeError), open_batch([]):
        raise RuntimeError("generation failed")
    assert current_batch() is None


def test_row_origins_give_the_sample_source_and_the_table_label():
    origins = [POLICY, RowOrigin(SampleSource.TEACHER, "alice"), GUIDED]
    with open_batch([{}, {}, {}]) as batch:
        batch.origins = origins
        assert batch.sample_source == [0, 1, 2]
        assert batch.is_policy.tolist() == [True, False, False]
    assert [o.label for o in origins] == ["policy", "teacher:alice", "guided"]
