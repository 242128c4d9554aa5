"""The demo and the learning study: OGER against GRPO and LUFFY-style training on a task where a small real model
learns on a CPU in minutes (`oger-trl demo`, `make demo`, `benchmarks/learning_study.py`)."""

from .main import main

__all__ = ["main"]
