"""Ending a multi-process run without the interpreter-finalization abort of torch's gloo backend.

A gloo worker thread (`pt_gloo_runloop`) frees each finished collective on its own thread, and the work holds a
captured `at::ThreadLocalState` whose Python object needs the GIL to be released. When that release comes after the
main thread has begun `Py_FinalizeEx`, CPython ends the worker with `pthread_exit` inside a `noexcept` destructor and
the rank dies with "terminate called without an active exception" (native backtrace: `PyThread_exit_thread <- take_gil
<- ConcretePyInterpreterVTable::decref <- ~ThreadLocalState <- ~AsyncAllreduceWork <- ProcessGroupGloo::runLoop`).
A five-line DDP script without this package (init gloo, DDP of a Linear, one backward, `destroy_process_group`, exit)
aborts one rank in about half its exits. Destroying the group earlier does not help: DDP's model keeps it alive, and
so does `torch.distributed.nn.functional` when `torch._dynamo` imports it after `init_process_group` (its
`group=group.WORLD` defaults are evaluated at import).

Every result is written before the interpreter finalizes, so a run that reached the end leaves by `os._exit` after
the `atexit` handlers (trackers, loggers) have run: the same exit as Python's, less the finalization that aborts.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys


def in_multi_process_run() -> bool:
    """Whether a launcher (torchrun, accelerate launch, DeepSpeed) started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def exit_finished_multi_process_run() -> None:
    """End a multi-process run whose results are all written: run the `atexit` handlers, flush, `os._exit(0)`.

    Returns without doing anything in a single process, where the gloo abort cannot happen and the caller (a
    notebook, a script that continues) may still need the interpreter."""
    if not in_multi_process_run():
        return
    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
