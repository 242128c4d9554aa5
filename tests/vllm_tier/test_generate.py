"""`oger-trl generate` on the real vLLM engine: the offline engine on SmolLM2 for 20 GSM8K train problems, and a real
OpenAI-compatible vLLM server on 127.0.0.1, stopped in the middle of a run: the run ends with one message naming the
server, keeps every finished problem, and finishes after the server is back without drawing any problem twice."""

import json
import os
import subprocess
import sys
import time

from helpers import free_port, needs_shared, shared_path
from server import stop, vllm_server

from oger_trl.data.loading import load_table
from oger_trl.math_answers import grade_math

GSM8K_TRAIN = shared_path("data", "gsm8k", "train.jsonl")
OGER_TRL = os.path.join(os.path.dirname(sys.executable), "oger-trl")
MAX_NEW_TOKENS = 96


def command(model: str, output, *extra: str) -> list[str]:
    return [
        OGER_TRL, "generate", "--problems", GSM8K_TRAIN, "--problem-column", "question", "--model", model,
        "--max-new-tokens", str(MAX_NEW_TOKENS), "--n", "2", "--output", str(output), *extra,
    ]  # fmt: skip


def generate(model: str, output, *extra: str) -> subprocess.CompletedProcess:
    result = subprocess.run(command(model, output, *extra), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def assert_graded_openr1_rows(rows: list[dict], count: int) -> None:
    with open(GSM8K_TRAIN) as f:
        gsm8k = [json.loads(line) for line in f.readlines()[:count]]
    assert [r["problem"] for r in rows] == [g["question"].strip() for g in gsm8k]
    assert [r["answer"] for r in rows] == [g["answer"].split("####")[-1].strip().replace(",", "") for g in gsm8k]
    for row in rows:
        assert row["correctness_math_verify"] == [  # cut traces are wrong; no thinking template here
            reason != "length" and grade_math(text, row["answer"]).correct
            for text, reason in zip(row["generations"], row["finish_reasons"], strict=True)
        ]
        for tokens, reason in zip(row["generation_tokens"], row["finish_reasons"], strict=True):
            assert 1 <= tokens <= MAX_NEW_TOKENS and (reason == "length") == (tokens == MAX_NEW_TOKENS)


@needs_shared(GSM8K_TRAIN)
def test_the_offline_engine_writes_graded_traces_for_20_gsm8k_problems(tmp_path, smollm2_path):
    output = tmp_path / "smollm2.parquet"
    result = generate(
        smollm2_path, output, "--engine", "vllm", "--limit", "20", "--dtype", "bfloat16", "--max-model-len", "512"
    )
    rows = load_table(str(output)).to_list()
    assert len(rows) == 20 and all(len(r["generations"]) == 2 for r in rows)
    assert_graded_openr1_rows(rows, 20)
    meta = json.loads((tmp_path / "smollm2.meta.json").read_text())
    assert meta["run"]["engine"] == "vllm" and meta["summary"]["samples"] == 40
    assert "| SmolLM2-135M-Instruct | 20 | 40 |" in result.stdout


@needs_shared(GSM8K_TRAIN)
def test_a_server_stopped_mid_run_fails_the_run_with_its_url_and_the_rerun_finishes_without_loss(
    tmp_path, smollm2_path
):
    port, output = free_port(), tmp_path / "served.jsonl"
    url = f"http://127.0.0.1:{port}/v1"
    records = tmp_path / "served.jsonl.parts" / "records" / "shard-00000-of-00001.jsonl"
    endpoint = ["--base-url", url, "--limit", "16", "--concurrency", "2", "--retries", "2"]
    with vllm_server(smollm2_path, port, str(tmp_path / "server1.log")) as server:
        run = subprocess.Popen(
            command(smollm2_path, output, *endpoint),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.time() + 600
        while not (records.exists() and records.read_text().count("\n") >= 3) and time.time() < deadline:
            time.sleep(0.2)
        stop(server.process)  # the server goes away while requests are in flight
        _, stderr = run.communicate(timeout=300)
    assert run.returncode == 1, stderr[-3000:]
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"oger-trl generate: error: The endpoint {url} stopped answering (")
    assert "run the same command again to continue where it stopped" in last and "Traceback" not in stderr
    finished = records.read_text().count("\n")
    assert 3 <= finished < 16 and records.read_text().endswith("\n") and not output.exists()

    with vllm_server(smollm2_path, port, str(tmp_path / "server2.log")):
        result = generate(smollm2_path, output, *endpoint)
    assert f"{finished} of 16 problems already done" in result.stdout
    indices = [json.loads(line)["index"] for line in records.read_text().splitlines()]
    assert sorted(indices) == list(range(16))  # every problem once: nothing lost, nothing drawn twice
    sessions = json.loads((tmp_path / "served.meta.json").read_text())["sessions"]
    assert [s["problems"] for s in sessions] == [finished, 16 - finished]
    assert_graded_openr1_rows(load_table(str(output)).to_list(), 16)
