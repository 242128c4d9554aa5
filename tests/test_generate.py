"""`oger-trl generate`: a teacher's traces in OpenR1-Math-220k's columns with what an audit needs, graded by the
package's grader, resumable after a kill without drawing a finished problem twice, every input mistake refused before a
model loads, an OpenAI-compatible endpoint retried on 429/5xx and named when it fails, and the whole chain
generate -> prepare -> train."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import free_port

from oger_trl.cli import main as cli
from oger_trl.data.loading import load_table
from oger_trl.data.prepare import THINK_OPEN
from oger_trl.evaluation import generation
from oger_trl.evaluation.generation import Completion
from oger_trl.math_answers import grade_math
from oger_trl.teacher_traces.engines import Generation, LocalEngine, Sampling, endpoint_text
from oger_trl.teacher_traces.problems import ProblemRow
from oger_trl.teacher_traces.run import trace_record

OGER_TRL = os.path.join(os.path.dirname(sys.executable), "oger-trl")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_GUIDE = os.path.join(ROOT, "docs", "data.md")
OPENR1_COLUMNS = ["problem", "answer", "generations", "correctness_math_verify"]
AUDIT_COLUMNS = ["finish_reasons", "generation_tokens"]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "2"}


def write_problems(path, count: int) -> str:
    with open(path, "w") as f:
        for i in range(count):
            f.write(json.dumps({"problem": f"What is {i} + {i + 1}?", "answer": str(2 * i + 1)}) + "\n")
    return str(path)


def generate_command(model: str, problems: str, output, *extra: str) -> list[str]:
    return [OGER_TRL, "generate", "--problems", problems, "--model", model, "--output", str(output), *extra]


def expected_grades(row: dict) -> list[bool]:
    """The grader's verdict on each generation, independently: a trace cut by the budget is wrong, and a thinking
    trace counts only by what follows its reasoning."""
    return [
        reason != "length" and grade_math(text, row["answer"], think_gate=text.startswith(THINK_OPEN)).correct
        for text, reason in zip(row["generations"], row["finish_reasons"], strict=True)
    ]


def run(command: list[str]) -> subprocess.CompletedProcess:
    result = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def test_traces_carry_openr1_columns_audit_columns_and_a_sidecar_that_agree(tmp_path, tiny_model_dir):
    problems = write_problems(tmp_path / "problems.jsonl", 5)
    output = tmp_path / "traces.parquet"
    result = run(
        [
            *generate_command(tiny_model_dir, problems, output, "--engine", "transformers", "--n", "3"),
            "--max-new-tokens",
            "12",
            "--temperature",
            "1.0",
            "--teacher",
            "tiny",
        ]
    )
    rows = load_table(str(output)).to_list()
    assert list(rows[0]) == OPENR1_COLUMNS + AUDIT_COLUMNS  # no reference solution in the source: no column
    assert [r["problem"] for r in rows] == [f"What is {i} + {i + 1}?" for i in range(5)]
    for row in rows:
        assert len(row["generations"]) == len(row["correctness_math_verify"]) == 3
        assert len(row["finish_reasons"]) == len(row["generation_tokens"]) == 3
        assert all(1 <= t <= 12 for t in row["generation_tokens"])
        assert set(row["finish_reasons"]) <= {"stop", "length"}
        assert row["correctness_math_verify"] == expected_grades(row)
    sidecar = json.loads((tmp_path / "traces.meta.json").read_text())
    assert sidecar["run"]["model"] == tiny_model_dir and sidecar["run"]["engine"] == "transformers"
    assert (sidecar["run"]["n"], sidecar["run"]["max_new_tokens"], sidecar["run"]["temperature"]) == (3, 12, 1.0)
    tokens = [t for r in rows for t in r["generation_tokens"]]
    reasons = [f for r in rows for f in r["finish_reasons"]]
    assert sidecar["summary"] == {
        "teacher": "tiny",
        "problems": 5,
        "samples": 15,
        "mean_tokens": pytest.approx(sum(tokens) / 15),
        "accuracy": pytest.approx(sum(c for r in rows for c in r["correctness_math_verify"]) / 15),
        "truncated_share": pytest.approx(reasons.count("length") / 15),
        "problems_solved": sum(any(r["correctness_math_verify"]) for r in rows),
    }
    assert "| tiny | 5 | 15 |" in result.stdout  # the per-teacher table
    assert sidecar["sessions"][0]["problems"] == 5 and sidecar["sessions"][0]["tokens"] == sum(tokens)


class ScriptedBackend:
    """Stands in for a model: answers each prompt with fixed texts, and ends its prompts as the chat template says."""

    def __init__(self, texts: list[str], template_opens_think: bool):
        self.texts, self.suffix = texts, THINK_OPEN if template_opens_think else ""

    def render(self, messages: list[dict]) -> str:
        return messages[-1]["content"] + self.suffix

    def generate(self, prompts, n, temperature, top_p, max_new_tokens, seeds=None):
        return [[Completion(text, 7, False) for text in self.texts[:n]] for _ in prompts]


def test_grading_is_the_package_grader_and_a_thinking_trace_counts_only_after_its_reasoning():
    row = ProblemRow(0, "What is 2 + 2?", "4", None)
    texts = ["So \\boxed{4}.", "So \\boxed{5}.", "2 + 2 = 4", "first \\boxed{4}, then"]
    reasons = ["stop", "stop", "stop", "length"]
    record = trace_record(row, [Generation(t, 5, r) for t, r in zip(texts, reasons, strict=True)])
    assert record["correctness_math_verify"] == [True, False, True, False]  # a cut trace has no final answer
    assert grade_math(texts[3], "4").correct  # ... though the grader alone would accept its intermediate answer
    # a template that opens `<think>` in the prompt: the trace gets the opening, as `prepare` expects to strip it
    thinking = ["the sum is \\boxed{4}\n</think>\n\nThe answer is \\boxed{4}.", "maybe \\boxed{4} ..."]
    records = []
    LocalEngine(ScriptedBackend(thinking, template_opens_think=True), batch_size=4).run(
        [row], Sampling(2, 1.0, 1.0, 16, 0, None, None), lambda r, g: records.append(trace_record(r, g))
    )
    assert records[0]["generations"] == [THINK_OPEN + t for t in thinking]
    assert records[0]["correctness_math_verify"] == [True, False]  # the second never closes its reasoning
    assert grade_math(THINK_OPEN + thinking[1], "4").correct  # ... which the ungated grader would have accepted


def test_an_endpoints_separated_reasoning_goes_back_inside_think():
    assert endpoint_text("The answer is 4.", "add 2 and 2") == f"{THINK_OPEN}add 2 and 2\n</think>\n\nThe answer is 4."
    assert endpoint_text("add them\n</think>\n\nIt is 4.", None) == THINK_OPEN + "add them\n</think>\n\nIt is 4."
    assert endpoint_text("It is 4.", None) == "It is 4."
    assert endpoint_text(None, "still adding") == f"{THINK_OPEN}still adding"  # cut mid-reasoning: left open
    assert endpoint_text("\n\n<think>\nx</think>\n\n4", None) == "<think>\nx</think>\n\n4"


def test_a_gsm8k_style_answer_becomes_its_final_number_and_the_worked_solution_is_kept(tmp_path, tiny_model_dir):
    problems = tmp_path / "gsm8k.jsonl"
    problems.write_text(json.dumps({"question": "Add 40 and 32.", "answer": "40 + 32 = <<40+32=72>>72\n#### 72"}))
    output = tmp_path / "traces.jsonl"
    run(
        [
            *generate_command(tiny_model_dir, str(problems), output, "--engine", "transformers", "--n", "1"),
            "--max-new-tokens",
            "4",
            "--problem-column",
            "question",
        ]
    )
    (row,) = load_table(str(output)).to_list()
    assert (row["answer"], row["solution"]) == ("72", "40 + 32 = <<40+32=72>>72\n#### 72")


def test_a_killed_run_resumes_without_drawing_a_finished_problem_twice_and_ends_with_the_same_file(
    tmp_path, tiny_model_dir
):
    problems = write_problems(tmp_path / "problems.jsonl", 60)
    settings = ["--engine", "transformers", "--n", "2", "--max-new-tokens", "48", "--batch-size", "1"]
    run(generate_command(tiny_model_dir, problems, tmp_path / "uninterrupted.parquet", *settings))

    output = tmp_path / "traces.parquet"
    records = tmp_path / "traces.parquet.parts" / "records" / "shard-00000-of-00001.jsonl"
    process = subprocess.Popen(generate_command(tiny_model_dir, problems, output, *settings), env=ENV)
    deadline = time.time() + 300
    while not (records.exists() and records.read_text().count("\n") >= 3) and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = records.read_text().count("\n")
    assert 3 <= finished < 60 and not output.exists(), "the kill must land mid-run"

    result = run(generate_command(tiny_model_dir, problems, output, *settings))
    assert f"{finished} of 60 problems already done" in result.stdout
    indices = [json.loads(line)["index"] for line in records.read_text().splitlines()]
    assert sorted(indices) == list(range(60))  # each problem recorded once
    sessions = json.loads((tmp_path / "traces.meta.json").read_text())["sessions"]
    assert [s["problems"] for s in sessions] == [
        60 - finished
    ]  # the killed run ended no session; this one drew the rest
    assert load_table(str(output)).to_list() == load_table(str(tmp_path / "uninterrupted.parquet")).to_list()


def test_two_data_parallel_processes_write_the_file_one_process_writes(tmp_path, tiny_model_dir):
    problems = write_problems(tmp_path / "problems.jsonl", 9)
    settings = ["--engine", "transformers", "--n", "2", "--max-new-tokens", "16", "--batch-size", "1"]
    run(generate_command(tiny_model_dir, problems, tmp_path / "one.parquet", *settings))
    run(generate_command(tiny_model_dir, problems, tmp_path / "two.parquet", *settings, "--data-parallel-size", "2"))
    sessions = json.loads((tmp_path / "two.meta.json").read_text())["sessions"]
    assert sorted((s["shard"], s["problems"]) for s in sessions) == [("0/2", 4), ("1/2", 5)]
    assert load_table(str(tmp_path / "two.parquet")).to_list() == load_table(str(tmp_path / "one.parquet")).to_list()


def refusal(argv: list[str], monkeypatch) -> str:
    """Run `oger-trl generate` in this process with model loading forbidden; return its one-line error."""

    def no_model(*args, **kwargs):
        raise AssertionError("a model was loaded before the input was refused")

    monkeypatch.setattr(generation, "make_backend", no_model)
    with pytest.raises(SystemExit) as exit_info:
        cli(["generate", *argv])
    message = str(exit_info.value.code)
    assert message.startswith("oger-trl generate: error: ") and "\n" not in message
    return message


@pytest.fixture
def valid(tmp_path, tiny_model_dir):
    problems = write_problems(tmp_path / "problems.jsonl", 3)
    return ["--problems", problems, "--model", tiny_model_dir, "--engine", "transformers", "--max-new-tokens", "8"]


def test_a_source_without_the_problem_column_is_refused_with_its_columns(tmp_path, valid, monkeypatch):
    message = refusal([*valid, "--problem-column", "question", "--output", str(tmp_path / "t.parquet")], monkeypatch)
    assert "lack the column(s) ['question'] (set --problem-column / --answer-column); the columns are" in message
    assert "['problem', 'answer']" in message


def test_an_empty_source_is_refused(tmp_path, valid, monkeypatch):
    (tmp_path / "empty.jsonl").write_text("")
    argv = [*valid, "--problems", str(tmp_path / "empty.jsonl"), "--output", str(tmp_path / "t.parquet")]
    assert "is empty: it holds no rows" in refusal(argv, monkeypatch)


def test_an_empty_answer_is_refused_with_its_row(tmp_path, valid, monkeypatch):
    (tmp_path / "p.jsonl").write_text('{"problem": "1+1?", "answer": "2"}\n{"problem": "2+2?", "answer": " "}\n')
    argv = [*valid, "--problems", str(tmp_path / "p.jsonl"), "--output", str(tmp_path / "t.parquet")]
    assert "row 2: column 'answer' is empty" in refusal(argv, monkeypatch)


@pytest.mark.parametrize(
    ("option", "value", "bound"),
    [("--n", "0", "at least 1"), ("--n", "-2", "at least 1"), ("--max-new-tokens", "0", "at least 1"),
     ("--limit", "0", "at least 1 (or left out)")],
)  # fmt: skip
def test_a_count_below_one_is_refused(tmp_path, valid, monkeypatch, option, value, bound):
    message = refusal([*valid, option, value, "--output", str(tmp_path / "t.parquet")], monkeypatch)
    assert f"{option} must be {bound}, got {value}." in message


def test_an_output_holding_another_models_or_settings_traces_is_refused(tmp_path, valid, tiny_model_dir, monkeypatch):
    output = str(tmp_path / "t.parquet")
    run([OGER_TRL, "generate", *valid, "--n", "1", "--output", output])
    message = refusal([*valid, "--n", "2", "--output", output], monkeypatch)
    assert "holds the traces of another run (n: 1 there, 2 now)" in message
    other_model = str(tmp_path / "other")
    os.symlink(tiny_model_dir, other_model)
    message = refusal([*valid, "--n", "1", "--model", other_model, "--output", output], monkeypatch)
    assert f"model: {tiny_model_dir!r} there, {other_model!r} now" in message


def test_an_output_of_another_format_or_under_a_file_is_refused(tmp_path, valid, monkeypatch):
    assert "give a .parquet or .jsonl file" in refusal([*valid, "--output", str(tmp_path / "t.csv")], monkeypatch)
    (tmp_path / "a-file").write_text("")
    under_a_file = str(tmp_path / "a-file" / "t.parquet")
    assert "cannot be created" in refusal([*valid, "--output", under_a_file], monkeypatch)


def test_a_missing_model_folder_is_refused(tmp_path, valid, monkeypatch):
    argv = [*valid, "--model", str(tmp_path / "no-model"), "--output", str(tmp_path / "t.parquet")]
    assert "no such folder" in refusal(argv, monkeypatch)


def test_an_unreachable_endpoint_is_refused_with_its_url(tmp_path, valid, monkeypatch):
    url = f"http://127.0.0.1:{free_port()}/v1"
    message = refusal(
        [*valid, "--engine", "endpoint", "--base-url", url, "--output", str(tmp_path / "t.jsonl")], monkeypatch
    )
    assert f"The endpoint {url} cannot be reached (" in message and "start the server or correct --base-url" in message


class StubServer:
    """An OpenAI-compatible server on 127.0.0.1 that answers chat completions with `\\boxed{answer}`, except the
    requests numbered in `fail_at`, which get the given status: what the client's retries must get through, or stop
    on."""

    def __init__(self, fail_at: dict[int, int], model: str = "stub-teacher"):
        self.fail_at, self.model, self.requests = fail_at, model, []  # {request number (from 1): status}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: dict):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("retry-after-ms", "10")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send(200, {"object": "list", "data": [{"id": stub.model, "object": "model"}]})

            def do_POST(self):
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(request)
                status = stub.fail_at.get(len(stub.requests))
                if status:
                    return self._send(status, {"error": {"message": f"stub status {status}", "code": status}})
                answer = request["messages"][-1]["content"].split("=")[0].strip()
                self._send(200, completion(f"\\boxed{{{answer}}}"))

        return Handler

    def close(self):
        self.server.shutdown()


def completion(text: str) -> dict:
    return {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "stub-teacher",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
    }


@pytest.fixture
def endpoint_problems(tmp_path):
    path = tmp_path / "sums.jsonl"
    path.write_text("".join(json.dumps({"problem": f"{i} = ?", "answer": str(i)}) + "\n" for i in range(4)))
    return str(path)


def endpoint_argv(url: str, problems: str, output) -> list[str]:
    return [
        "--problems",
        problems,
        "--model",
        "stub-teacher",
        "--base-url",
        url,
        "--instruction",
        "",
        "--n",
        "2",
        "--output",
        str(output),
    ]


def test_an_endpoint_answering_429_and_503_is_retried_and_every_sample_is_recorded(tmp_path, endpoint_problems):
    stub = StubServer(fail_at={1: 429, 2: 503, 3: 429})
    try:
        cli(["generate", *endpoint_argv(stub.url, endpoint_problems, tmp_path / "t.jsonl"), "--concurrency", "1"])
    finally:
        stub.close()
    rows = load_table(str(tmp_path / "t.jsonl")).to_list()
    assert [r["correctness_math_verify"] for r in rows] == [[True, True]] * 4
    assert len(stub.requests) == 8 + 3  # every sample once, plus one retry per failure
    seeds = [r["seed"] for r in stub.requests[3:]]
    assert len(set(seeds)) == 8  # a seed per sample
    assert [r["generation_tokens"] for r in rows] == [[4, 4]] * 4


def test_an_endpoint_refusing_a_request_stops_the_run_with_its_status_and_keeps_what_finished(
    tmp_path, endpoint_problems
):
    stub = StubServer(fail_at={5: 400})  # as a server refuses a request beyond its context, say
    argv = [*endpoint_argv(stub.url, endpoint_problems, tmp_path / "t.jsonl"), "--concurrency", "1"]
    try:
        with pytest.raises(SystemExit) as exit_info:
            cli(["generate", *argv])
        message = str(exit_info.value.code)
        assert f"The endpoint {stub.url} refused a request (400: " in message and "a retry would not help" in message
        assert "2 of 4 problems were finished and saved" in message
        records = tmp_path / "t.jsonl.parts" / "records" / "shard-00000-of-00001.jsonl"
        assert [json.loads(line)["index"] for line in records.read_text().splitlines()] == [0, 1]
        before = len(stub.requests)
        cli(["generate", *argv])  # the server accepts again: the rerun draws only the other two
    finally:
        stub.close()
    assert len(stub.requests) - before == 2 * 2
    assert [r["answer"] for r in load_table(str(tmp_path / "t.jsonl")).to_list()] == ["0", "1", "2", "3"]


def test_an_endpoint_failing_past_its_retries_is_named_as_such(tmp_path, endpoint_problems):
    stub = StubServer(fail_at={k: 503 for k in range(1, 100)})
    argv = [*endpoint_argv(stub.url, endpoint_problems, tmp_path / "t.jsonl"), "--concurrency", "1", "--retries", "1"]
    try:
        with pytest.raises(SystemExit) as exit_info:
            cli(["generate", *argv])
    finally:
        stub.close()
    assert f"The endpoint {stub.url} kept failing (503: " in str(exit_info.value.code)
    assert "after 1 retries" in str(exit_info.value.code)


def test_a_model_the_endpoint_does_not_serve_is_refused_and_the_corrected_command_runs(tmp_path, endpoint_problems):
    stub = StubServer(fail_at={})
    argv = endpoint_argv(stub.url, endpoint_problems, tmp_path / "t.jsonl")
    try:
        with pytest.raises(SystemExit) as exit_info:
            cli(["generate", *argv, "--model", "stub-teachr"])
        assert f"The endpoint {stub.url} serves ['stub-teacher'], not --model 'stub-teachr'." in exit_info.value.code
        cli(["generate", *argv])  # the typo left nothing behind that would refuse the corrected command
    finally:
        stub.close()
    assert len(load_table(str(tmp_path / "t.jsonl"))) == 4


def test_a_source_changed_under_the_same_path_is_refused(tmp_path, tiny_model_dir, monkeypatch):
    problems = write_problems(tmp_path / "problems.jsonl", 3)
    argv = ["--problems", problems, "--model", tiny_model_dir, "--engine", "transformers", "--max-new-tokens", "4"]
    run([OGER_TRL, "generate", *argv, "--n", "1", "--output", str(tmp_path / "t.jsonl")])
    lines = (tmp_path / "problems.jsonl").read_text().splitlines()
    lines[1] = json.dumps({"problem": "Another problem?", "answer": "5"})
    (tmp_path / "problems.jsonl").write_text("\n".join(lines) + "\n")
    message = refusal([*argv, "--n", "1", "--output", str(tmp_path / "t.jsonl")], monkeypatch)
    assert (
        "row 2 is not the problem this output's traces were drawn for ('What is 1 + 2?'): the source changed"
        in message
    )


def test_greedy_decoding_with_several_samples_is_refused(tmp_path, valid, monkeypatch):
    message = refusal([*valid, "--temperature", "0", "--n", "2", "--output", str(tmp_path / "t.jsonl")], monkeypatch)
    assert "--temperature 0 is greedy: its --n 2 samples would be one" in message


def guide_block(marker: str) -> str:
    """The bash block that follows `<!-- marker -->` in the data guide (docs/data.md)."""
    with open(DATA_GUIDE, encoding="utf-8") as f:
        text = f.read()
    return text.split(f"<!-- {marker} -->\n```bash\n", 1)[1].split("```", 1)[0]


def test_the_guides_chain_generates_two_teachers_prepares_them_and_trains(tmp_path):
    """The data guide's offline chain, run as it stands: SmolLM2 at two temperatures as two teachers on two sums, merged
    by `prepare` into the OGER contract, one training step."""
    pytest.importorskip("gguf")
    os.symlink(os.path.join(ROOT, "recipes"), tmp_path / "recipes")
    env = {**ENV, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
    script = "set -euo pipefail\n" + guide_block("generate-chain")
    result = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200
    )
    assert result.returncode == 0, result.stderr[-4000:]

    rows = load_table(str(tmp_path / "sums-oger.parquet")).to_list()
    teachers = ("smollm2-t06", "smollm2-t10")
    sources = {name: load_table(str(tmp_path / "teachers" / f"{name}.parquet")).to_list() for name in teachers}
    for i, row in enumerate(rows):  # per problem: each correct trace of each teacher, in order, first copy only
        correct = [
            (name, text)
            for name, traces in sources.items()
            for text, ok in zip(traces[i]["generations"], traces[i]["correctness_math_verify"], strict=True)
            if ok
        ]
        expected = [(name, text) for j, (name, text) in enumerate(correct) if text not in [t for _, t in correct[:j]]]
        assert list(zip(row["teacher_sources"], row["teacher_completions"], strict=True)) == expected
    assert sum(len(row["teacher_completions"]) for row in rows) > 0, "no correct trace: the chain trained no teacher"
    assert "Model saved to runs/sums." in result.stdout
