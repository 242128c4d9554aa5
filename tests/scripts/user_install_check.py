"""What a user does right after `pip install "oger-trl[minilm]"` in a fresh environment: `oger-trl --help`, then a
1-step `oger-trl train` of a tiny offline model. Run with that environment's Python (`make check-user-install`): it
needs nothing the package does not declare, so a missing dependency fails here."""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from helpers import arithmetic_dataset

from oger_trl.tiny_policy import build_model, build_tokenizer

OGER_TRL = os.path.join(os.path.dirname(sys.executable), "oger-trl")
RECIPE = """\
model_name_or_path: {work}/tiny
dataset_name: {work}/arithmetic.parquet
reward_funcs: accuracy_reward
output_dir: {work}/run
teacher_cache_dir: {work}/cache
use_cpu: true
bf16: false
report_to: none
save_strategy: "no"
activation_checkpointing: false
max_steps: 1
per_device_train_batch_size: 4
num_generations: 4
max_completion_length: 48
encoder_max_length: 64
"""


def run(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [OGER_TRL, *args], capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}
    )
    if result.returncode != 0:
        sys.exit(
            f"`oger-trl {' '.join(args)}` failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-6000:]}"
        )
    return result


def main() -> None:
    assert "commands:" in run("--help").stdout
    with tempfile.TemporaryDirectory() as work:
        tokenizer = build_tokenizer()
        build_model(tokenizer).save_pretrained(f"{work}/tiny")
        tokenizer.save_pretrained(f"{work}/tiny")
        arithmetic_dataset(8).to_parquet(f"{work}/arithmetic.parquet")
        with open(f"{work}/recipe.yaml", "w") as f:
            f.write(RECIPE.format(work=work))
        run("train", "--config", f"{work}/recipe.yaml")
        assert os.path.exists(f"{work}/run/model.safetensors"), "oger-trl train saved no model"
    print("user install check passed: `oger-trl --help` and a 1-step `oger-trl train` in a fresh environment")


if __name__ == "__main__":
    main()
