"""`oger-trl evaluate` end to end: a tiny local model on 20 GSM8K test problems with k = 2; the JSON, Markdown and
JSONL outputs agree; a run killed midway resumes without regenerating finished problems; and the runner's outputs
agree with a known pattern of right and wrong answers."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from helpers import needs_shared, shared_path

from oger_trl.evaluation.benchmarks import load_items
from oger_trl.evaluation.generation import Completion
from oger_trl.evaluation.metrics import pass_at_k
from oger_trl.evaluation.runner import EvalSettings, evaluate

GSM8K_TEST = shared_path("data", "gsm8k", "test.jsonl")
OGER_TRL = os.path.join(os.path.dirname(sys.executable), "oger-trl")
needs_gsm8k = needs_shared(GSM8K_TEST)


def evaluate_command(model_dir, output, *extra):
    command = [
        OGER_TRL, "evaluate", "--model", model_dir, "--benchmarks", f"gsm8k={GSM8K_TEST}", "--limit", "20",
        "--n", "2", "--backend", "transformers", "--output", str(output), *extra,
    ]  # fmt: skip
    return command, {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "2"}


def read_samples(path) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f]


@needs_gsm8k
def test_outputs_are_consistent_with_each_other(tmp_path, tiny_model_dir):
    command, env = evaluate_command(tiny_model_dir, tmp_path, "--max-new-tokens", "24", "--batch-size", "5")
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    samples = read_samples(tmp_path / "samples" / "gsm8k.jsonl")
    results = json.loads((tmp_path / "results.json").read_text())
    table = (tmp_path / "results.md").read_text()
    assert len(samples) == 40 and {s["sample"] for s in samples} == {0, 1}
    assert {s["id"] for s in samples} == {str(i) for i in range(20)}
    metrics = results["benchmarks"]["gsm8k"]
    assert metrics["items"] == 20
    assert metrics["avg@2"] == pytest.approx(sum(s["correct"] for s in samples) / 40)
    assert metrics["mean_response_tokens"] == pytest.approx(sum(s["num_tokens"] for s in samples) / 40)
    assert metrics["truncation_rate"] == pytest.approx(sum(s["truncated"] for s in samples) / 40)
    assert results["in_domain_avg@2"] == metrics["avg@2"]
    assert f"| gsm8k | 20 | {100 * metrics['avg@2']:.1f} | {100 * metrics['pass@1']:.1f} |" in table
    with open(GSM8K_TEST, encoding="utf-8") as f:
        problems = [json.loads(line) for line in f][:20]
    for s in samples:  # every line carries what is needed to audit it: its problem, gold answer and completion
        problem = problems[int(s["id"])]
        assert problem["question"].strip() in s["prompt"] and "completion" in s
        assert s["gold"] == problem["answer"].split("####")[-1].strip().replace(",", "")
        assert all(k in s for k in ("extracted", "correct", "num_tokens", "truncated"))
    assert results["settings"]["n"] == 2 and results["settings"]["temperature"] == 0.6


@needs_gsm8k
def test_an_interrupted_evaluation_resumes_without_regenerating(tmp_path, tiny_model_dir):
    command, env = evaluate_command(tiny_model_dir, tmp_path, "--max-new-tokens", "200", "--batch-size", "1")
    samples_path = tmp_path / "samples" / "gsm8k.jsonl"
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (
        not samples_path.exists() or len(samples_path.read_text().splitlines()) < 6
    ):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = read_samples(samples_path)
    finished = {s["id"] for s in before}
    assert 3 <= len(finished) < 20  # killed midway

    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    assert f"gsm8k: {len(finished)} of 20 items already done" in result.stdout
    after = read_samples(samples_path)
    assert len(after) == 40
    kept = [s for s in after if s["id"] in finished]
    assert sorted(kept, key=lambda s: (s["id"], s["sample"])) == sorted(before, key=lambda s: (s["id"], s["sample"]))


class ScriptedGenerator:
    """Stands in for a generation backend with known answers: problem i is answered right in its first i % 3 samples."""

    def __init__(self):
        self.calls = 0

    def render(self, user_message: str) -> str:
        return user_message

    def generate(self, prompts, n, temperature, top_p, max_new_tokens):
        self.calls += 1
        outputs = []
        for prompt in prompts:
            index = int(prompt.split("#")[1].split(":")[0])
            answer = int(prompt.split("+")[0].split(":")[1]) + int(prompt.split("+")[1].split("?")[0])
            outputs.append(
                [Completion(f"\\boxed{{{answer if j < index % 3 else answer + 1}}}", 5 + j, j == 1) for j in range(n)]
            )
        return outputs


def test_runner_scores_a_known_pattern(tmp_path):
    data = tmp_path / "local.jsonl"
    rows = [{"question": f"Problem #{i}: {i}+{2 * i}?", "answer": f"work\n#### {3 * i}"} for i in range(9)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    generator = ScriptedGenerator()
    benchmarks = [load_items(f"gsm8k={data}")]
    results = evaluate(generator, benchmarks, str(tmp_path / "out"), EvalSettings(n=2, batch_size=4), {"model": "s"})
    metrics = results["benchmarks"]["gsm8k"]
    correct_per_item = [min(i % 3, 2) for i in range(9)]  # 0, 1, 2, 0, 1, 2, ...
    assert metrics["avg@2"] == pytest.approx(sum(correct_per_item) / 18)
    assert metrics["pass@1"] == pytest.approx(sum(pass_at_k(2, c, 1) for c in correct_per_item) / 9)
    assert metrics["pass@2"] == pytest.approx(sum(c > 0 for c in correct_per_item) / 9)
    assert metrics["truncation_rate"] == pytest.approx(0.5)
    samples = read_samples(tmp_path / "out" / "samples" / "gsm8k.jsonl")
    assert [s["extracted"] for s in samples if s["id"] == "4"] == ["12", "13"]
    calls = generator.calls
    evaluate(generator, benchmarks, str(tmp_path / "out"), EvalSettings(n=2, batch_size=4), {"model": "s"})
    assert generator.calls == calls  # everything was already done


def test_benchmark_evaluation_during_training_logs_avg_at_k(tmp_path, tokenizer, encoder):
    from helpers import make_trainer

    from oger_trl.evaluation.callback import BenchmarkEvalCallback

    data = tmp_path / "mini_gsm8k.jsonl"
    rows = [{"question": f"What is {i} + {i}?", "answer": f"#### {2 * i}"} for i in range(6)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    trainer = make_trainer(tmp_path, tokenizer, encoder, max_steps=2)
    callback = BenchmarkEvalCallback(trainer, [f"gsm8k={data}"], every_steps=1, n=2, limit=5, max_new_tokens=8)
    trainer.add_callback(callback)
    trainer.train()
    logged = [h["eval/gsm8k/avg@2"] for h in trainer.state.log_history if "eval/gsm8k/avg@2" in h]
    assert len(logged) == 2 and all(0.0 <= v <= 1.0 for v in logged)
    assert trainer.model.training  # evaluation gave the model back in training mode
    assert len(callback.benchmarks[0][1]) == 5


def test_recipes_can_ask_for_benchmark_evaluation():
    from oger_trl.train import make_parser

    recipe = os.path.join(
        os.path.dirname(__file__), "..", "recipes", "SmolLM2-135M-Instruct", "oger", "config_cpu.yaml"
    )
    script, *_ = make_parser().parse_args_and_config(
        args=["--config", recipe, "--eval_benchmarks", "math500", "gsm8k", "--eval_benchmarks_steps", "10"]
    )
    assert script.eval_benchmarks == ["math500", "gsm8k"] and script.eval_benchmarks_steps == 10
