"""`oger-trl evaluate`: the paper's benchmarks, sampled k times, graded with math-verify, scored avg@k and pass@k."""

from ..math_answers import Grade, grade_choice, grade_math
from .benchmarks import BENCHMARKS, Benchmark, EvalItem, load_items
from .metrics import pass_at_k, summarize
from .runner import evaluate

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "EvalItem",
    "Grade",
    "evaluate",
    "grade_choice",
    "grade_math",
    "load_items",
    "pass_at_k",
    "summarize",
]
