"""The learning study survives interruption (each finished run is on disk; a restart skips it) and reports per method
the mean final held-out accuracy with its 95% interval, the online-reward trend, time to accuracy and final entropy,
computed here independently from the runs it wrote."""

import argparse
import importlib.util
import json
import os
from pathlib import Path

import pytest

from oger_trl.demo.settings import RunSettings
from oger_trl.run_folder import write_json_atomically

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "learning_study.py")


@pytest.fixture
def study(monkeypatch):
    spec = importlib.util.spec_from_file_location("learning_study", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    calls = []

    class Result:
        def __init__(self, method, seed, pass_at_k):
            final = {"OGER": 0.5 + 0.25 * seed, "GRPO": 0.0}.get(method, 0.3)
            self.history = [{"step": 0, "heldout/accuracy": 0.0, "heldout/accuracy_lenient": 0.7}]
            self.history += [
                {"step": s, "loss": 0.0, "oger/online_reward/mean": final * s / 4, "entropy": 1.0 - 0.1 * s}
                for s in range(1, 5)
            ]
            self.history[2]["heldout/accuracy"] = final / 2
            self.history[4]["heldout/accuracy"] = final
            if pass_at_k:  # pass@k rises with k: 0.1, 0.4 and 0.8 plus 0.1 per seed
                self.history[4].update(
                    {f"heldout/pass@{k}": v + 0.1 * seed for k, v in ((1, 0.1), (4, 0.4), (16, 0.8))}
                )
            self.samples = {0: [{"answer": "a"}], 4: [{"answer": "b"}]}
            self.seconds = 60.0 * (1 + seed)

    def fake_train_run(method, task, settings, seed, model_path, encoder, output_dir, start, pass_at_k_samples=0):
        calls.append((method, seed))
        return Result(method, seed, pass_at_k_samples)

    monkeypatch.setattr(module, "train_run", fake_train_run)
    monkeypatch.setattr(module, "SentenceEncoder", lambda **kwargs: None)
    monkeypatch.setattr(module, "resolve_model_name", lambda name: name)
    return module, calls


def namespace(tmp_path, **overrides) -> argparse.Namespace:
    options = dict(
        output_dir=str(tmp_path),
        model="m",
        seeds=2,
        ablation_seeds=1,
        steps=4,
        methods=None,
        pass_at_k=0,
        train_problems=0,
    )
    return argparse.Namespace(**{**options, **overrides})


def test_finished_runs_are_kept_and_a_restarted_study_skips_them(tmp_path, study):
    module, calls = study
    cli = namespace(tmp_path)
    settings = RunSettings(steps=4, eval_every=2)
    write_json_atomically({"method": "GRPO", "seed": 1, "seconds": 1.0, "history": finished_history(),
                           "final_answers": []}, module.run_path(str(tmp_path), "GRPO", 1))  # fmt: skip
    module.run_study(cli, settings)
    assert calls == [("OGER", 0), ("GRPO", 0), ("LUFFY", 0), ("OGER g=1", 0), ("OGER no bonus", 0),
                     ("OGER", 1), ("LUFFY", 1)]  # fmt: skip
    assert json.loads((tmp_path / "start.json").read_text())["metrics"]["heldout/accuracy"] == 0.0
    calls.clear()
    module.run_study(cli, settings)
    assert calls == []


def finished_history() -> list[dict]:
    return [{"step": 0, "heldout/accuracy": 0.0, "heldout/accuracy_lenient": 0.7}] + [
        {"step": s, "loss": 0.0, "oger/online_reward/mean": 0.0, "entropy": 2.0, "heldout/accuracy": 0.0}
        for s in range(1, 5)
    ]


def test_the_summary_table_is_computed_from_the_written_runs(tmp_path, study):
    module, _ = study
    cli = namespace(tmp_path)
    settings = RunSettings(steps=4, eval_every=2)
    module.run_study(cli, settings)
    table = Path(module.write_summary(cli, settings)).read_text(encoding="utf-8")
    (oger,) = [line for line in table.splitlines() if line.startswith("| OGER |")]
    cells = [c.strip() for c in oger.strip("|").split("|")]
    # finals 0.5 and 0.75: mean 0.625, half-width t(0.975, df=1) * sd / sqrt(2) = 12.7062 * 0.125 = 1.588
    assert cells[1] == "2" and cells[2] == "0.625 ± 1.588" and cells[3] == "0.500, 0.750"
    # online reward at step 1 (window = 4 // 4) and step 4: finals / 4 and finals, averaged over the two seeds
    assert cells[4] == "0.156 → 0.625"
    assert cells[5] == "4, 4"  # accuracy reaches 0.5 only at step 4 in both seeds (0.25 and 0.375 at step 2)
    assert cells[6] == "0.600" and cells[7] == "—" and cells[8] == "1.5"  # entropy at step 4; median of 1 and 2 min
    (luffy,) = [line for line in table.splitlines() if line.startswith("| LUFFY |")]
    # LUFFY ends at 0.3 in both seeds: differences from OGER -0.2 and -0.45, mean -0.325, half-width 12.7062 * 0.125
    assert [c.strip() for c in luffy.strip("|").split("|")][7] == "-0.325 ± 1.588"
    assert (tmp_path / "dynamics.png").exists()


def test_the_exploration_study_runs_its_methods_per_seed_and_reports_pass_at_k(tmp_path, study):
    module, calls = study
    cli = namespace(tmp_path, methods=module.EXPLORATION, pass_at_k=16)
    settings = RunSettings(steps=4, eval_every=2)
    module.run_study(cli, settings)
    assert calls == [(m, seed) for seed in (0, 1) for m in ("OGER", "OGER representation", "OGER self-teachers",
                                                             "OGER cosine coef")]  # fmt: skip
    table = Path(module.write_summary(cli, settings)).read_text(encoding="utf-8")
    header, _, *rows = table.split("Held-out pass@k of the final policy")[1].strip().splitlines()[2:]
    assert header == "| method | runs | pass@1, mean ± 95% CI | pass@4, mean ± 95% CI | pass@16, mean ± 95% CI |"
    # per seed 0.1 / 0.4 / 0.8 plus 0.1 * seed: means 0.15, 0.45, 0.85; half-width 12.7062 * 0.05 = 0.635
    assert rows[0] == "| OGER | 2 | 0.150 ± 0.635 | 0.450 ± 0.635 | 0.850 ± 0.635 |"


def test_a_study_on_fewer_training_problems_trains_on_the_first_ones_and_says_so(tmp_path, study, monkeypatch):
    module, _ = study
    trained_on = []
    original = module.train_run
    monkeypatch.setattr(module, "train_run", lambda method, task, *args: trained_on.append(task) or original(
        method, task, *args))  # fmt: skip
    cli = namespace(tmp_path, methods=("OGER", "OGER self-teachers"), seeds=1, train_problems=10)
    settings = RunSettings(steps=4, eval_every=2)
    module.run_study(cli, settings)
    full = module.addition_task(module.HELD_OUT)
    assert [len(task.train) for task in trained_on] == [10, 10]
    assert trained_on[0].train["prompt"] == full.train["prompt"][:10]
    assert trained_on[0].held_out["prompt"] == full.held_out["prompt"]
    summary = Path(module.write_summary(cli, settings)).read_text(encoding="utf-8")
    assert "(10 training problems, 40 held-out problems" in summary
