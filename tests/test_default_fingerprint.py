"""With the defaults, OGER trains bit-identically to the OGER before the pluggable bonuses, the self-teacher pool and
the coefficient schedule (issue 15): the same logged loss, rewards and OGER metrics at every step and the same
trained parameters (SHA-256) as the tree of commit f643c2e, run here by `tests/scripts/default_fingerprint.py`.

The baseline is computed on this machine, not read from a file: float results of the same code and packages differ
across CPUs in the last bits (a fingerprint recorded on one machine differed on another in the 7th digit of the
divergence), while on one machine they are a function of the code alone."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "scripts"))

from default_fingerprint import LOGGED, STEPS, fingerprint

BASELINE_COMMIT = "f643c2e"  # OGER before issue 15
ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "scripts" / "default_fingerprint.py"


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> dict:
    """The fingerprint of the tree at BASELINE_COMMIT (its `oger_trl` and test helpers), from this repository's history."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", BASELINE_COMMIT], capture_output=True)
    if archive.returncode != 0:
        pytest.skip(f"commit {BASELINE_COMMIT} is not in this checkout's history (a shallow clone or no git)")
    tree = tmp_path_factory.mktemp("baseline-tree")
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    output = tree / "fingerprint.json"
    command = [sys.executable, str(SCRIPT), "--tree", str(tree), "--output", str(output)]
    subprocess.run(command, check=True, capture_output=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return json.loads(output.read_text())


def test_the_baseline_exercises_the_exploration_bonus_and_the_splice(baseline):
    # A fingerprint in which the bonus was never paid or nothing was spliced could not see a change to either.
    assert len(baseline["logged"]) == STEPS
    assert all(step["oger/exploration_reward/mean"] > 0 for step in baseline["logged"])
    assert all(step["oger/offline_frac"] > 0 for step in baseline["logged"])
    assert set(baseline["logged"][0]) == set(LOGGED)


def test_defaults_train_bit_identically_to_oger_before_issue_15(tmp_path, baseline):
    assert fingerprint(tmp_path) == baseline
