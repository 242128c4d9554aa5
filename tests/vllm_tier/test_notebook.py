"""The Colab notebook with its vLLM settings on, on the CPU engine: colocate generation, sleep mode off because the
notebook sees no GPU (it decides that itself), LoRA trained and saved."""

import os

from helpers import execute_notebook, write_gsm8k_style_teachers

NOTEBOOK = os.path.join(os.path.dirname(__file__), "..", "..", "notebooks", "oger_lora_colab.ipynb")


def test_the_notebook_trains_with_vllm_on(tmp_path, tiny_model_dir, monkeypatch):
    # vLLM silences C-level output through the kernel's stdout file descriptor; ipykernel provides one (as in Jupyter
    # and Colab) except when it sees it runs under pytest, which the kernel would inherit from this variable
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    parameters = {
        "MODEL_ID": tiny_model_dir,
        "TEACHER_DATA": write_gsm8k_style_teachers(tmp_path / "teachers.jsonl"),
        "DATASET_SIZE": 8,
        "MAX_STEPS": 2,
        "NUM_GENERATIONS": 4,
        "MAX_COMPLETION_LENGTH": 32,
        "USE_VLLM": True,
        "VLLM_ON_CPU": True,  # this environment has the weight-reloading plugin
        "PUSH_TO_HUB": False,
        "OUTPUT_DIR": str(tmp_path / "out"),
        "INSTALL": False,
    }
    # what the run used, read from the notebook's own trainer once every cell has run
    report = (
        "print('engine:', trainer.use_vllm, trainer.args.vllm_enable_sleep_mode,"
        " all('sampling/importance_sampling_ratio/mean' in h for h in trainer.state.log_history if 'loss' in h))"
    )
    notebook = execute_notebook(NOTEBOOK, parameters, tmp_path, final_cell=report)

    assert (tmp_path / "out" / "adapter_model.safetensors").exists()
    (last,) = notebook.cells[-1].outputs
    # vLLM generated every step (TRL logs importance-sampling ratios only for vLLM rows), without sleep mode on a CPU
    assert last["text"].strip() == "engine: True False True"
