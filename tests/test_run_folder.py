"""Files a run writes are whole or absent: a reader never meets a half-written one."""

import json
import os

import pytest

from oger_trl.run_folder import replace_atomically, write_json_atomically


def test_a_json_file_is_written_into_a_folder_created_for_it(tmp_path):
    path = tmp_path / "a" / "b" / "record.json"
    write_json_atomically({"seed": 3, "values": [0.5, 1.0]}, str(path))
    assert json.loads(path.read_text()) == {"seed": 3, "values": [0.5, 1.0]}
    assert os.listdir(path.parent) == ["record.json"]


@pytest.mark.parametrize("interruption", [OSError("disk full"), KeyboardInterrupt()])
def test_an_interrupted_write_keeps_the_previous_file_and_leaves_no_temporary_one(tmp_path, interruption):
    path = tmp_path / "record.json"
    write_json_atomically({"version": 1}, str(path))

    def write_half_then_fail(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write('{"version": 2, "hal')
        raise interruption

    with pytest.raises(type(interruption)):
        replace_atomically(str(path), write_half_then_fail)
    assert json.loads(path.read_text()) == {"version": 1}
    assert os.listdir(tmp_path) == ["record.json"]
