"""`oger-trl generate`: sample traces from a teacher model on a set of problems, grade them, and write them in the
OpenR1-Math-220k format that `oger-trl prepare openr1` reads.

`problems.py` reads and selects the problems, `engines.py` samples them (vLLM's offline engine, transformers, or an
OpenAI-compatible endpoint), `records.py` keeps what is done across interruptions, `report.py` summarises a teacher,
and `run.py` wires them together.
"""
