"""The project's own pytest run collects `test_labels.py` here, never the vendored TRL suite (it needs the stand-in
fixtures and runs three times, once per mode, through `run.py`) nor TRL's vendored scripts."""

collect_ignore = ["trl_tests", "trl_scripts"]
