"""A multi-process run that has written its results ends with status 0, without the interpreter finalization in
which torch's gloo backend can abort a rank (see `oger_trl.process_exit`)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import free_port

from oger_trl.process_exit import exit_finished_multi_process_run, in_multi_process_run

SCRIPTS = Path(__file__).parent / "scripts"


def test_a_single_process_keeps_its_interpreter(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert not in_multi_process_run()
    exit_finished_multi_process_run()  # returns: a notebook or a script may go on


def test_a_finished_rank_runs_its_exit_handlers_flushes_and_ends_with_status_0(tmp_path):
    script = textwrap.dedent(f"""
        import atexit, logging, sys
        from oger_trl.process_exit import exit_finished_multi_process_run
        atexit.register(lambda: open({str(tmp_path / "handler")!r}, "w").write("ran"))
        logging.basicConfig(filename={str(tmp_path / "log")!r}, level=logging.INFO)
        logging.info("logged")
        sys.stdout.write("printed, not yet flushed")
        exit_finished_multi_process_run()
        open({str(tmp_path / "after")!r}, "w").write("reached")
    """)
    env = {**os.environ, "WORLD_SIZE": "2"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "printed, not yet flushed"
    assert (tmp_path / "handler").read_text() == "ran"  # trackers' atexit hooks (wandb, ...) still finish
    assert "logged" in (tmp_path / "log").read_text()
    assert not (tmp_path / "after").exists()


def launch_two_ranks(*flags: str) -> subprocess.CompletedProcess:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}"]
    return subprocess.run(
        [*launcher, str(SCRIPTS / "gloo_exit.py"), *flags], capture_output=True, text=True, timeout=300
    )


@pytest.mark.timeout(600)
def test_two_ranks_that_end_through_it_never_abort_after_a_ddp_backward():
    """Without it a third of these launches lose a rank to "terminate called without an active exception"
    (measured: 16 of 60 with `--plain`, 0 of 60 through it); 4 launches all end with status 0."""
    for _ in range(4):
        done = launch_two_ranks()
        assert done.returncode == 0, done.stderr[-3000:]
        assert "terminate called" not in done.stderr
