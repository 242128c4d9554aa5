"""The demo pipeline at a reduced size: both runs train, and the report, the plots and the log histories are written,
with the report's numbers equal to the logged history."""

import json
import re
from pathlib import Path

import pytest
from helpers import build_model, write_gsm8k_style_teachers

from oger_trl.demo import main as demo

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PLOTS = [
    "dynamics.png",
    "reward.png",
    "eval_gsm8k_avg_at_1.png",
    "entropy.png",
    "oger_entropy_last_mean.png",
    "oger_divergence_mean.png",
    "oger_exploration_reward_mean.png",
]


def table_row(report: str, label: str) -> list[str]:
    (line,) = [line for line in report.splitlines() if line.startswith(f"| {label}")]
    return [cell.strip() for cell in line.strip("|").split("|")][1:]


def test_demo_writes_a_report_that_matches_its_logs(tmp_path, tokenizer):
    model_dir = tmp_path / "tiny"
    build_model(tokenizer).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_gsm8k_style_teachers(data_dir / "example_model_solutions.jsonl", n=24)
    out = tmp_path / "demo"
    demo(
        [
            "--data-dir", str(data_dir), "--output-dir", str(out), "--model", str(model_dir), "--steps", "2",
            "--num-generations", "4", "--completion-length", "48", "--held-out", "4", "--eval-every", "1",
            "--eval-tokens", "8", "--learning-rate", "1e-2",
        ]
    )  # fmt: skip

    for plot in PLOTS:
        content = (out / plot).read_bytes()
        assert content.startswith(PNG_MAGIC) and len(content) > 10_000, plot
    assert (out / "model" / "model.safetensors").exists()
    held_out = [json.loads(line) for line in (out / "held_out_gsm8k.jsonl").read_text().splitlines()]
    assert len(held_out) == 4 and all(r["answer"].startswith("#### ") for r in held_out)

    report = (out / "report.md").read_text()
    histories = {name: json.loads((out / f"log_history_{name.lower()}.json").read_text()) for name in ("GRPO", "OGER")}
    for column, (name, history) in enumerate(histories.items()):
        steps = [h for h in history if "loss" in h]
        assert len(steps) == 2
        for key, label in (("reward", "mean training reward"), ("oger/offline_frac", "share of teacher")):
            expected = sum(h[key] for h in steps) / len(steps)
            assert float(table_row(report, label)[column]) == pytest.approx(expected, abs=1e-4)
        after = [h["eval/gsm8k/avg@1"] for h in history if "eval/gsm8k/avg@1" in h]
        assert len(after) == 2  # every step, as asked
        before, reported_after = map(float, table_row(report, name))
        assert reported_after == pytest.approx(after[-1], abs=1e-3)
        assert 0.0 <= before <= 1.0
    assert float(table_row(report, "share of teacher")[0]) == 0.0  # the GRPO baseline never splices
    assert float(table_row(report, "share of teacher")[1]) > 0.0
    assert re.search(r"!\[dynamics.png\]\(dynamics.png\)", report)


def test_without_local_data_the_demo_fetches_it_or_says_clearly_why_it_cannot(tmp_path, monkeypatch, capsys):
    import urllib.error
    import urllib.request

    from oger_trl.demo import teacher_file

    monkeypatch.setenv("HOME", str(tmp_path))  # an empty download cache

    def offline(url, filename):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlretrieve", offline)
    with pytest.raises(
        SystemExit, match=r"Could not fetch example_model_solutions.jsonl .*pass its folder with --data-dir"
    ):
        teacher_file(str(tmp_path / "missing"))
    assert "fetching it from https://raw.githubusercontent.com/openai/grade-school-math" in capsys.readouterr().out

    def fetched(url, filename):
        write_gsm8k_style_teachers(filename, n=3)

    monkeypatch.setattr(urllib.request, "urlretrieve", fetched)
    path = teacher_file(None)
    assert path.endswith("example_model_solutions.jsonl") and len(Path(path).read_text().splitlines()) == 3
