"""The exploration study keeps one record per finished run, continues where it stopped, measures the exploration
reward's size from TRL's completion table, and rebuilds its tables from the records alone with one command; every
number below is computed by hand from the fixture."""

import importlib.util
import json
import math
import os
import subprocess
import sys

import pandas as pd
import pytest

from oger_trl.run_folder import write_json_atomically

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "exploration_study.py")
T_975 = {1: 12.7062, 2: 4.3027}  # Student-t 97.5% quantiles by degrees of freedom


@pytest.fixture(scope="module")
def study():
    spec = importlib.util.spec_from_file_location("exploration_study", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bonus_size_reads_the_online_rows_of_a_completion_table(study):
    table = pd.DataFrame(
        {
            "source": ["policy", "policy", "policy", "teacher:verbal"],
            "accuracy_reward": [1.0, 1.0, 0.0, 1.0],
            "oger_exploration": [0.3, 0.1, 0.0, 0.0],
            "divergence": [0.4, 0.2, 0.5, math.nan],
            "entropy_last": [0.0, math.log(2), 3.0, math.nan],
            "finished": [True, True, False, True],
        }
    )
    size = study.bonus_size(table)
    assert size["online_rows"] == 3  # the teacher row is not the policy's
    assert size["finished_fraction"] == pytest.approx(2 / 3)
    assert size["correct_fraction"] == pytest.approx(2 / 3)
    assert size["bonus_on_correct"] == pytest.approx(0.2)
    assert size["divergence_on_correct"] == pytest.approx(0.3)
    assert size["confidence_on_correct"] == pytest.approx((1 + 0.5) / 2)  # exp(0), exp(-log 2)
    assert size["entropy_last_at_eos"] == pytest.approx(math.log(2) / 2)


def record(method: str, seed: int, accuracy: float, entropy: float, bonus: float) -> dict:
    """An 8-step run: held-out accuracy `accuracy` at step 8, token entropy `entropy` at steps 7-8 (the last quarter)
    and 9 elsewhere, pass@k and distinct answers at step 8, the reward's size at steps 4 (2 rows, both correct, one
    finished) and 8 (6 rows, 3 correct, 1 finished)."""
    history = [{"step": 0, "heldout/accuracy": 0.0}]
    history += [{"step": s, "entropy": entropy if s >= 7 else 9.0, "loss": 0.1} for s in range(1, 9)]
    history[8].update({"heldout/accuracy": accuracy, "heldout/pass@1": accuracy / 2, "heldout/pass@4": accuracy,
                       "heldout/pass@16": 1.0, "heldout/distinct_correct": 1 + seed})  # fmt: skip
    sizes = {"finished_fraction": 0.5, "bonus_on_correct": 0.0, "divergence_on_correct": 0.3,
             "confidence_on_correct": 0.9, "entropy_last_at_eos": 0.1, "correct_fraction": 0.5}  # fmt: skip
    return {
        "method": method, "seed": seed, "seconds": 60.0, "history": history,
        "settings": {"steps": 8, "completion_length": 64},
        "bonus_size": [{"step": 4, "online_rows": 2, **sizes, "correct_fraction": 1.0, "entropy_last_at_eos": 0.5},
                       {"step": 8, "online_rows": 6, **sizes, "bonus_on_correct": bonus, "finished_fraction": 1 / 6,
                        "confidence_on_correct": 0.5}],
    }  # fmt: skip


@pytest.fixture
def records_dir(tmp_path, study):
    runs = [
        record("OGER", 0, 0.5, 1.0, 0.4), record("OGER", 1, 0.6, 1.2, 0.4), record("OGER", 2, 0.7, 1.4, 0.4),
        record("OGER no bonus", 0, 0.4, 1.0, 0.0), record("OGER no bonus", 1, 0.6, 1.0, 0.0),
        record("OGER no bonus", 2, 0.5, 1.0, 0.0), record("LUFFY", 0, 0.5, 2.0, 0.0), record("LUFFY", 1, 0.5, 2.0, 0.0),
    ]  # fmt: skip
    for run in runs:
        write_json_atomically(run, study.record_path(str(tmp_path / "records"), run["method"], run["seed"]))
    # what a writer killed mid-write leaves (os.replace never ran): not a record, so never read as one
    (tmp_path / "records" / "OGER_seed3.json.999.tmp.json").write_text('{"method": "OGER", "se')
    return tmp_path


def cells(results: str, first_cell: str) -> list[str]:
    row = next(line for line in results.splitlines() if line.startswith(f"| {first_cell} |"))
    return [c.strip() for c in row.strip("|").split("|")][1:]


def test_one_command_rebuilds_the_tables_from_the_records(records_dir):
    plot = records_dir / "docs_plot.png"
    command = [sys.executable, SCRIPT, "--table", "--study-dir", str(records_dir), "--docs-plot", str(plot)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    results = (records_dir / "results.md").read_text()
    assert plot.read_bytes() == (records_dir / "dynamics.png").read_bytes()
    half = T_975[2] * 0.1 / math.sqrt(3)  # three values 0.1 apart: standard deviation 0.1
    # OGER: accuracy 0.5, 0.6, 0.7; pass@1 half of it; entropy of steps 7-8; distinct answers 1, 2, 3
    assert cells(results, "OGER")[:6] == ["3", f"0.600 ± {half:.3f}", f"0.300 ± {half / 2:.3f}",
                                          f"0.600 ± {half:.3f}", "1.000 ± 0.000", f"1.200 ± {2 * half:.3f}"]  # fmt: skip
    assert cells(results, "OGER")[6] == f"2.000 ± {10 * half:.3f}"
    # paired by seed: accuracy 0.5-0.4, 0.6-0.6, 0.7-0.5 = 0.1, 0, 0.2; entropy 0, 0.2, 0.4
    paired = cells(results, "OGER − OGER no bonus")
    assert paired[:2] == ["3", f"+0.100 ± {half:.3f}"]
    assert paired[5] == f"+0.200 ± {2 * half:.3f}"
    luffy = cells(results, "OGER − LUFFY")  # only seeds 0 and 1 have both: 0.5-0.5, 0.6-0.5 (sd 0.1 / sqrt 2)
    assert luffy[:2] == ["2", f"+0.050 ± {T_975[1] * (0.1 / math.sqrt(2)) / math.sqrt(2):.3f}"]
    # the reward's size over a run is a mean over the rows behind each figure, never a mean of step means:
    # finished over the 2 + 6 online rows of steps 4 and 8, (1 + 1) / 8; the bonus and exp(-H_last) over the 2 + 3
    # correct rows, (2 * 0 + 3 * 0.4) / 5 and (2 * 0.9 + 3 * 0.5) / 5; H_last at EOS over the 1 + 1 finished rows
    size_rows = [line for line in results.splitlines() if line.startswith("| OGER |")]
    assert [c.strip() for c in size_rows[1].split("|")[2:7]] == [
        "0.250 ± 0.000", "0.240 ± 0.000", "0.300 ± 0.000", "0.660 ± 0.000", "0.300 ± 0.000"]  # fmt: skip


def test_the_regime_is_read_over_the_last_half_of_a_run(study):
    late = study.in_regime(record("OGER", 0, 0.5, 1.0, 0.4))  # 8 steps: only step 8 is past the half
    assert late == {
        "finished_fraction": (pytest.approx(1 / 6), False),
        "confidence_on_correct": (pytest.approx(0.5), False),
        "bonus_on_correct": (pytest.approx(0.4), True),
    }


def test_the_study_runs_seed_major_and_skips_recorded_runs(tmp_path, study, monkeypatch):
    ran = []

    def fake_run(method, seed, settings, path, work_root, pass_at_k):
        ran.append((method, seed))
        write_json_atomically(record(method, seed, 0.5, 1.0, 0.1), path)

    monkeypatch.setattr(study, "run_and_record", fake_run)
    argv = ["--seeds", "2", "--study-dir", str(tmp_path), "--docs-plot", str(tmp_path / "plot.png")]
    monkeypatch.setattr(sys, "argv", ["exploration_study.py", *argv])
    write_json_atomically(record("OGER", 0, 0.5, 1.0, 0.1), study.record_path(str(tmp_path / "records"), "OGER", 0))
    study.main()
    assert ran == [("OGER no bonus", 0), ("LUFFY", 0), ("OGER", 1), ("OGER no bonus", 1), ("LUFFY", 1)]
    study.main()  # a second start finds every run recorded
    assert len(ran) == 5
    assert json.loads((tmp_path / "records" / "LUFFY_seed1.json").read_text())["seed"] == 1
