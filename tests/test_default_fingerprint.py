"""With the defaults, OGER trains bit-identically to the OGER before the pluggable bonuses, the self-teacher pool and
the coefficient schedule (issue 15): the same logged loss, rewards and OGER metrics at every step and the same
trained parameters (SHA-256) as `tests/scripts/default_fingerprint.py` recorded at commit f643c2e (its docstring
says how to rebuild the record)."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "scripts"))

from default_fingerprint import LOGGED, STEPS, fingerprint

RECORDED = json.loads((Path(__file__).parent / "data" / "default_fingerprint_f643c2e.json").read_text())


def test_the_record_exercises_the_exploration_bonus_and_the_splice():
    # A fingerprint in which the bonus was never paid or nothing was spliced could not see a change to either.
    assert len(RECORDED["logged"]) == STEPS
    assert all(step["oger/exploration_reward/mean"] > 0 for step in RECORDED["logged"])
    assert all(step["oger/offline_frac"] > 0 for step in RECORDED["logged"])
    assert set(RECORDED["logged"][0]) == set(LOGGED)


def test_defaults_train_bit_identically_to_oger_before_issue_15(tmp_path):
    assert fingerprint(tmp_path) == RECORDED
