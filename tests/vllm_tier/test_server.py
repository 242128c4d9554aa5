"""TRL's server mode against a real vLLM server (a subprocess on 127.0.0.1): TRL's client generates with the sampling
settings OGER uses, and the log-probs it returns are the colocated engine's for the same prompt and completion.

Training in server mode cannot run on a CPU: TRL 1.16 pushes weights to a server only through vLLM's NCCL weight
transfer (`VLLMClient.init_communicator` refuses a non-CUDA device). `benchmarks/gpu_check.py` trains in server mode
with its weight-sync check on a GPU."""

import socket
import sys

import pytest
import torch
from helpers import free_port
from probes import BF16_DEEP_TOLERANCE, engine_logprobs, fixed_completion
from server import alive, launched, vllm_server
from transformers import AutoTokenizer

# Both engines run SmolLM2 in bfloat16 with the same weights and differ only in how a token's log-prob is computed
# (decode steps vs one prefill): BF16_DEEP_TOLERANCE. A wrong token, a wrong position or log-probs processed at
# another temperature are off by nats.


def test_trl_client_generates_through_a_real_server_with_the_colocated_engines_logprobs(
    tmp_path, smollm2_path, single_process_launcher
):
    from trl.generation.vllm_client import VLLMClient
    from vllm import LLM

    tokenizer = AutoTokenizer.from_pretrained(smollm2_path)
    prompts = [fixed_completion(tokenizer, q, "")[0] for q in ("What is 2 + 3?", "Name a prime number.")]
    with vllm_server(smollm2_path, free_port(), str(tmp_path / "server.log")) as server:
        started = server.processes()
        client = VLLMClient(base_url=server.base_url, connection_timeout=60)
        # the request TRL's server branch sends for OGER's defaults (temperature 1, no truncation, 24 new tokens)
        output = client.generate(prompts, n=4, temperature=1.0, top_p=1.0, top_k=0, min_p=0.0, max_tokens=24)
    assert not alive(started)  # nothing left behind

    assert output["prompt_ids"] == prompts
    completions, logprobs = output["completion_ids"], output["logprobs"]
    assert len(completions) == 8 and all(0 < len(c) <= 24 for c in completions)
    assert [len(lp) for lp in logprobs] == [len(c) for c in completions]
    assert any(c[-1] == tokenizer.eos_token_id or len(c) == 24 for c in completions)

    colocated = LLM(smollm2_path, dtype="bfloat16", enforce_eager=True, max_model_len=512)
    try:
        for i, completion in enumerate(completions):
            served = torch.tensor([step[0] for step in logprobs[i]], dtype=torch.float64)
            engine = engine_logprobs(colocated, prompts[i // 4], list(completion))
            assert (served - engine).abs().mean() < BF16_DEEP_TOLERANCE, (i, served, engine)
    finally:
        colocated.llm_engine.engine_core.shutdown()  # its engine core process, also when an assertion failed


def test_a_launched_server_is_stopped_with_its_children_when_the_body_fails(tmp_path):
    # a stand-in server: a process that starts a child and answers /health, like the API server and its engine core
    script = (
        "import http.server, subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200); self.end_headers()\n"
        f"http.server.HTTPServer(('127.0.0.1', {(port := free_port())}), H).serve_forever()\n"
    )
    command = [sys.executable, "-c", script]
    with (
        pytest.raises(RuntimeError, match="the test body failed"),
        launched(command, f"http://127.0.0.1:{port}", 60, str(tmp_path / "log")) as server,
    ):
        started = server.processes()
        assert len(started) == 2
        raise RuntimeError("the test body failed")
    assert not alive(started)
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass  # nothing answers on the server's port any more
