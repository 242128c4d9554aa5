"""The smallest run that meets torch's gloo exit abort: one DDP backward on 2 processes, then exit.

`--plain` exits as Python does (one rank aborts in about a third of the launches on a 2-core machine); without it the
script ends through `exit_finished_multi_process_run`, as `oger-trl train` does."""

import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from oger_trl.process_exit import exit_finished_multi_process_run

dist.init_process_group("gloo")
model = DistributedDataParallel(torch.nn.Linear(4, 4))
model(torch.randn(2, 4)).sum().backward()
dist.destroy_process_group()
if "--plain" not in sys.argv:
    exit_finished_multi_process_run()
