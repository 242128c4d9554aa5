"""The demo pipeline at a reduced size: three methods train from the same weights; the report, the plots and the log
histories are written; the report's numbers equal the logged history, and the online reward excludes teacher rows
(checked against the completion tables)."""

import json
from pathlib import Path

import pandas as pd
import pytest
from helpers import build_model, make_trainer, write_gsm8k_style_teachers

from oger_trl.demo.main import main as demo
from oger_trl.demo.main import parse_args
from oger_trl.demo.summary import confidence_interval, first_step_reaching, mean_curve, mean_over_steps
from oger_trl.demo.tasks import ADDITION_TEACHERS, addition_task, gsm8k_task

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PLOTS = [
    "dynamics.png",
    "oger_online_reward_mean.png",
    "heldout_accuracy.png",
    "entropy.png",
    "oger_entropy_last_mean.png",
    "oger_divergence_mean.png",
    "oger_exploration_reward_mean.png",
]
RUNS = {"OGER": "oger", "GRPO": "grpo", "LUFFY": "luffy"}


def table(report: str, heading: str) -> dict[str, list[str]]:
    """The rows of the Markdown table under `heading`, by first cell."""
    section = report.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip().strip("|").split("|") for line in section.splitlines() if line.startswith("| ")]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows[1:]}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    from helpers import build_tokenizer

    tokenizer = build_tokenizer()
    root = tmp_path_factory.mktemp("demo")
    model_dir = root / "tiny"
    build_model(tokenizer).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    out = root / "out"
    results = demo(
        [
            "--output-dir", str(out), "--model", str(model_dir), "--steps", "3", "--prompts-per-step", "2",
            "--num-generations", "4", "--completion-length", "24", "--held-out", "6", "--eval-every", "2",
            "--learning-rate", "1e-2",
        ]
    )  # fmt: skip
    return out, results


def test_three_methods_train_from_one_starting_point_and_write_report_plots_histories_and_model(demo_run):
    out, results = demo_run
    assert [r.method for r in results] == list(RUNS)
    for plot in PLOTS:
        content = (out / plot).read_bytes()
        assert content.startswith(PNG_MAGIC) and len(content) > 10_000, plot
    assert (out / "model" / "model.safetensors").exists()
    starts = {json.dumps(r.history[0], sort_keys=True) for r in results}
    assert len(starts) == 1  # the step-0 evaluation of the shared weights, measured once
    assert all(r.samples[0] == results[0].samples[0] for r in results)


def test_report_numbers_equal_the_logged_history(demo_run):
    out, _ = demo_run
    report = (out / "report.md").read_text()
    accuracy = table(report, "Held-out accuracy")
    online = table(report, "Reward of the policy's own completions")
    dynamics = table(report, "Training dynamics")
    share = next(cells for label, cells in dynamics.items() if label.startswith("share of teacher"))
    for column, (method, slug) in enumerate(RUNS.items()):
        history = json.loads((out / f"log_history_{slug}.json").read_text())
        evaluated = {h["step"]: h["heldout/accuracy"] for h in history if "heldout/accuracy" in h}
        assert sorted(evaluated) == [0, 2, 3]  # step 0, every 2 steps, and the last step
        assert [float(c) for c in accuracy[method][:3]] == pytest.approx([evaluated[s] for s in (0, 2, 3)], abs=1e-3)
        assert float(accuracy[method][3]) == pytest.approx(evaluated[3] - evaluated[0], abs=1e-3)
        steps = [h for h in history if "loss" in h]
        assert len(steps) == 3
        # the online-reward windows: the first and the last max(1, 3 // 4) = 1 step
        assert float(online[method][0]) == pytest.approx(steps[0]["oger/online_reward/mean"], abs=1e-3)
        assert float(online[method][1]) == pytest.approx(steps[-1]["oger/online_reward/mean"], abs=1e-3)
        expected_share = sum(h["oger/offline_frac"] for h in steps) / 3
        assert float(share[column]) == pytest.approx(expected_share, abs=1e-4)
    assert float(share[1]) == 0.0 and float(share[0]) > 0.0 and float(share[2]) > 0.0  # GRPO never splices
    assert "## Held-out answers before and after" in report and "- before training: " in report


def test_online_reward_metric_excludes_teacher_rows_of_the_completion_tables(demo_run):
    out, _ = demo_run
    for slug in RUNS.values():
        history = json.loads((out / f"log_history_{slug}.json").read_text())
        for entry in (h for h in history if "loss" in h):
            completions = pd.read_parquet(out / slug / "completions" / f"completions_{entry['step']:05d}.parquet")
            policy = completions[completions["source"] == "policy"]
            assert len(policy) > 0
            assert entry["oger/online_reward/mean"] == pytest.approx(policy["accuracy_reward"].mean(), abs=1e-6)
            if slug != "grpo":  # one teacher row per group, scored like the others
                assert (completions["source"] != "policy").sum() == 2
                total = completions["accuracy_reward"] + completions["oger_exploration"]
                assert entry["reward"] == pytest.approx(total.mean(), abs=1e-6)


def test_the_addition_task_holds_out_problems_and_gives_every_training_problem_each_teacher_style():
    task = addition_task(held_out=40)
    assert len(task.train) == 60 and len(task.held_out) == 40
    train = {row["prompt"][0]["content"] for row in task.train}
    held_out = {row["prompt"][0]["content"] for row in task.held_out}
    assert not train & held_out and len(train | held_out) == 100
    for row in task.train:
        assert row["teacher_sources"] == list(ADDITION_TEACHERS)
        assert all(t.endswith(f"\\boxed{{{row['solution']}}}.") for t in row["teacher_completions"])
    assert addition_task(40).held_out["prompt"] == task.held_out["prompt"]  # the split is fixed
    with pytest.raises(ValueError, match="--held-out must be between 1 and 99"):
        addition_task(held_out=100)


def test_bad_demo_arguments_are_refused_before_anything_loads(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--steps", "0"])
    assert "--steps must be at least 1, got 0" in capsys.readouterr().err


def test_summary_statistics_against_hand_computation():
    mean, half = confidence_interval([0.2, 0.4, 0.6])
    # sd 0.2, sem 0.2 / sqrt(3), t(0.975, df=2) = 4.302653
    assert mean == pytest.approx(0.4) and half == pytest.approx(4.302653 * 0.2 / 3**0.5, rel=1e-5)
    history = [{"step": 0, "acc": 0.0}, {"step": 5, "acc": 0.4}, {"step": 10, "acc": 0.6}, {"step": 10}]
    assert first_step_reaching(history, "acc", 0.5) == 10 and first_step_reaching(history, "acc", 0.9) is None
    assert mean_over_steps(history, "acc", 5, 10) == pytest.approx(0.5)
    steps, means, low, high = mean_curve([history, [{"step": 5, "acc": 0.2}, {"step": 10, "acc": 0.2}]], "acc")
    assert steps == [5, 10] and means == pytest.approx([0.3, 0.4])
    assert high[0] - means[0] == pytest.approx(12.706205 * 0.1, rel=1e-5) and low[0] < means[0]


def test_gsm8k_task_fetches_its_file_or_says_clearly_why_it_cannot(tmp_path, monkeypatch, capsys):
    import urllib.error
    import urllib.request

    monkeypatch.setenv("HOME", str(tmp_path))  # an empty download cache

    def offline(url, filename):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlretrieve", offline)
    with pytest.raises(
        SystemExit, match=r"Could not fetch example_model_solutions.jsonl .*pass its folder with --data-dir"
    ):
        gsm8k_task(str(tmp_path / "missing"), held_out=2)
    assert "fetching it from https://raw.githubusercontent.com/openai/grade-school-math" in capsys.readouterr().out

    def fetched(url, filename):
        write_gsm8k_style_teachers(filename, n=6)

    monkeypatch.setattr(urllib.request, "urlretrieve", fetched)
    task = gsm8k_task(None, held_out=2)
    assert len(task.held_out) == 2 and len(task.train) == 4  # all six problems have a correct teacher
    assert Path(tmp_path, ".cache", "oger_trl", "gsm8k", "example_model_solutions.jsonl").exists()


def test_held_out_pass_at_k_samples_n_answers_per_problem_and_scores_each_group(tmp_path, tokenizer, encoder):
    from datasets import Dataset

    from oger_trl.demo.heldout import HeldOutEvaluation

    trainer = make_trainer(tmp_path, tokenizer, encoder)
    held_out = Dataset.from_list(
        [{"prompt": [{"role": "user", "content": f"What is {i} + 1?"}], "solution": str(i + 1)} for i in range(3)]
    )

    def exact(completions, solution, **kwargs):
        return [float(c[0]["content"] == s) for c, s in zip(completions, solution, strict=True)]

    evaluation = HeldOutEvaluation(trainer, held_out, exact, 5, 8, pass_at_k_samples=4)

    def scripted(prompts, n, temperature, prompts_per_call):  # problem i gets i + 1 right answers of its 4
        assert (n, temperature) == (4, 1.0)
        return [str(i + 1) if j <= i else "x" for i in range(len(prompts)) for j in range(n)]

    evaluation._generate = scripted
    got = evaluation.sampled_pass_at_k()
    expected = {"heldout/pass@1": (1 + 2 + 3) / 12, "heldout/pass@4": 1.0}
    assert got == pytest.approx({**expected, "heldout/distinct_correct": 1.0})  # each problem: one right text
