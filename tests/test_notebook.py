"""The Colab notebook runs top to bottom, with its `parameters` cell overridden the way papermill does: a tiny offline
model, two steps, no install, no Hub, no vLLM. Any cell error fails the test."""

import os

from helpers import build_model, execute_notebook, write_gsm8k_style_teachers

NOTEBOOK = os.path.join(os.path.dirname(__file__), "..", "notebooks", "oger_lora_colab.ipynb")


def test_notebook_executes_on_a_tiny_offline_model(tmp_path, tokenizer):
    model_dir = tmp_path / "tiny"
    build_model(tokenizer).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    parameters = {
        "MODEL_ID": str(model_dir),
        "TEACHER_DATA": write_gsm8k_style_teachers(tmp_path / "teachers.jsonl"),
        "DATASET_SIZE": 8,
        "MAX_STEPS": 2,
        "NUM_GENERATIONS": 4,
        "MAX_COMPLETION_LENGTH": 32,
        "USE_VLLM": False,
        "PUSH_TO_HUB": False,
        "OUTPUT_DIR": str(tmp_path / "out"),
        "INSTALL": False,
    }
    notebook = execute_notebook(NOTEBOOK, parameters, tmp_path)

    assert (tmp_path / "out" / "adapter_model.safetensors").exists()  # the LoRA adapter was trained and saved
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert any(o.get("output_type") == "display_data" and "image/png" in o.get("data", {}) for o in outputs)
    assert any("gold:" in o.get("text", "") for o in outputs)
    # outside a checkout, the one marked variable says where pip would get the package; no guessed repository links
    assert any("oger-trl from: oger-trl[minilm]" in o.get("text", "") for o in outputs)
    with open(NOTEBOOK, encoding="utf-8") as f:
        assert "github.com/oger-trl" not in f.read()
