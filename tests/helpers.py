"""Offline building blocks shared by the tests and their subprocess scripts: a tiny Qwen2 policy with a tokenizer
trained in-process, a synthetic arithmetic dataset with teacher completions, and small reward functions."""

import functools
import os
import socket

import torch
from datasets import Dataset

from oger_trl.tiny_policy import (  # noqa: F401  (re-exported: the tests and their scripts import them from here)
    arithmetic_problems,
    build_model,
    build_tokenizer,
    teacher_solutions,
)


def shared_path(*parts: str) -> str:
    """A file of the shared data folder (GSM8K, ...): $OGER_SHARED_DIR, else ../shared next to the checkout, else
    /work/shared. The first candidate that exists wins; the last one is returned for the skip message otherwise."""
    candidates = [
        os.environ.get("OGER_SHARED_DIR", ""),
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"),
        "/work/shared",
    ]
    paths = [os.path.join(c, *parts) for c in candidates if c]
    return next((p for p in paths if os.path.exists(p)), paths[-1])


def needs_shared(path: str):
    """For tests that read the shared data folder: skipped with the path where it is absent (a laptop without it),
    failed with the same message where it must be there (CI sets OGER_REQUIRE_SHARED_DATA=1)."""

    import pytest  # here, not at the top: scripts run in a user's environment import this module too

    def decorate(test):
        if os.path.exists(path):
            return test
        message = f"shared data not found at {path}: set OGER_SHARED_DIR to the folder holding data/gsm8k"
        if not os.environ.get("OGER_REQUIRE_SHARED_DATA"):
            return pytest.mark.skip(reason=message)(test)

        @functools.wraps(test)
        def missing(*args, **kwargs):
            pytest.fail(message)

        return missing

    return decorate


def arithmetic_dataset(
    n: int = 8, seed: int = 0, conversational: bool = True, no_teacher_rows: tuple = (), wrong_teacher: bool = True
) -> Dataset:
    rows = []
    for i, (a, b) in enumerate(arithmetic_problems(n, seed)):
        question = f"What is {a} + {b}?"
        texts, names = teacher_solutions(a, b)
        if not wrong_teacher:
            texts, names = texts[:2], names[:2]
        if i in no_teacher_rows:
            texts, names = [], []
        rows.append(
            {
                "prompt": [{"role": "user", "content": question}] if conversational else question,
                "solution": str(a + b),
                "teacher_completions": texts,
                "teacher_sources": names,
            }
        )
    return Dataset.from_list(rows)


def letter_reward(completions, **kwargs) -> list[float]:
    """A verifiable-style reward that a random policy does earn: the share of ASCII letters in the first 10 characters."""
    texts = [c if isinstance(c, str) else c[0]["content"] for c in completions]
    return [sum(ch.isascii() and ch.isalpha() for ch in text[:10]) / 10 for text in texts]


def nearest_teacher_bonus(inputs) -> torch.Tensor:
    """A user exploration bonus (`exploration_bonus="helpers.nearest_teacher_bonus"`): 1 - the highest cosine of an
    online completion to its group's teachers; NaN (no reward) for other rows and groups without teachers."""
    bonus = torch.full_like(inputs.divergence, float("nan"))
    n = inputs.group_size
    for group, teachers in enumerate(inputs.teacher_embeddings):
        if len(teachers):
            rows = slice(group * n, (group + 1) * n)
            bonus[rows] = (1 - (inputs.online_embeddings[rows] @ teachers.T).max(1).values).clamp(0, 1)
    return bonus


def base_config_kwargs(output_dir, cache_dir, **overrides) -> dict:
    kwargs = dict(
        output_dir=str(output_dir),
        teacher_cache_dir=str(cache_dir),
        use_cpu=True,
        bf16=False,
        report_to="none",
        save_strategy="no",
        activation_checkpointing=False,
        disable_dropout=True,
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=32,
        max_steps=2,
        logging_steps=1,
        learning_rate=1e-2,
        seed=0,
    )
    kwargs.update(overrides)
    return kwargs


def make_trainer(
    tmp_path,
    tokenizer,
    encoder,
    dataset=None,
    reward_funcs=None,
    model_seed=0,
    eval_dataset=None,
    peft_config=None,
    trainer_class=None,
    model=None,
    **overrides,
):
    """An OGERTrainer (or `trainer_class`) over the tiny policy (or `model`, e.g. a checkpoint folder) and the
    synthetic arithmetic data."""
    from trl.rewards import accuracy_reward

    from oger_trl import OGERConfig, OGERTrainer

    args = OGERConfig(**base_config_kwargs(tmp_path / "out", tmp_path / "cache", **overrides))
    return (trainer_class or OGERTrainer)(
        model if model is not None else build_model(tokenizer, seed=model_seed),
        reward_funcs=reward_funcs or [accuracy_reward, letter_reward],
        args=args,
        train_dataset=dataset if dataset is not None else arithmetic_dataset(8),
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        encoder=encoder,
        peft_config=peft_config,
    )


def record_online_generation(trainer, rows):
    """Run one generation batch through `trainer`, recording TRL's own (pre-splice) completions on the way."""
    import copy
    from unittest.mock import patch

    from trl import GRPOTrainer

    recorded = {}
    original = GRPOTrainer._generate

    def spy(self, prompts):
        result = original(self, prompts)
        recorded["prompt_ids"] = copy.deepcopy(result[0])
        recorded["completion_ids"] = copy.deepcopy(result[1])
        recorded["completions"] = copy.deepcopy(result[3])
        return result

    with patch.object(GRPOTrainer, "_generate", spy):
        output = trainer._generate_and_score_completions(rows)
    return recorded, output


def unpadded(ids_row, mask_row) -> list[int]:
    return ids_row[mask_row.bool()].tolist()


def reference_divergence(encoder, online_texts: list[str], teacher_texts: list[str]) -> list[float]:
    """D_i = clamp(1 - mean_j cos(online_i, teacher_j)) computed directly from fresh encodings."""
    import numpy as np

    online = encoder.encode(online_texts).double().numpy()
    teachers = encoder.encode(teacher_texts).double().numpy()
    return np.clip(1 - (online @ teachers.T).mean(1), 0, 1).tolist()


def reference_last_entropy(model, prompt_ids: list[int], completion_ids: list[int], temperature: float = 1.0) -> float:
    """Entropy (nats) of softmax(logits / T) at the step that produced the last completion token: a plain forward."""
    ids = torch.tensor([prompt_ids + completion_ids])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, len(prompt_ids) + len(completion_ids) - 2] / temperature
    logp = torch.log_softmax(logits.double(), -1)
    return float(-(logp.exp() * logp).sum())


def independent_logps(model, inputs, temperature: float = 1.0) -> torch.Tensor:
    """Per-token log-probs of the completion tokens from a plain forward (no fused head, no TRL code)."""
    ids = torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], dim=1)
    attention = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], dim=1)
    c = inputs["completion_ids"].size(1)
    logits = model(input_ids=ids, attention_mask=attention).logits[:, -c - 1 : -1] / temperature
    return torch.log_softmax(logits.float(), -1).gather(-1, inputs["completion_ids"].unsqueeze(-1)).squeeze(-1)


def joint_luffy_objective(logps, inputs, loss_type: str, trainer, gamma: float = 0.1, shaped=None) -> torch.Tensor:
    """sum_t [m * (-A p/(p+gamma)) + (1 - m) * (-A * ratio)] / norm on one micro-batch, one process, no old-policy
    log-probs (ratio = pi/pi_old is 1 in value), written from the LUFFY/TRL definitions of each normaliser. m marks
    the `shaped` rows (default: the teacher rows)."""
    from oger_trl import SampleSource

    ga = trainer.args.gradient_accumulation_steps
    a = inputs["advantages"].unsqueeze(1)
    teacher = (inputs["sample_source"] == SampleSource.TEACHER if shaped is None else shaped).unsqueeze(1)
    p = logps.exp()
    ratio = torch.exp(logps - logps.detach())
    per_token = torch.where(teacher, -a * p / (p + gamma), -a * ratio)
    mask = inputs["completion_mask"].float()
    total = (per_token * mask).sum()
    if loss_type == "grpo":
        return ((per_token * mask).sum(-1) / mask.sum(-1)).mean() / ga
    if loss_type == "bnpo":
        return total / mask.sum() / ga
    if loss_type == "dr_grpo":
        return total / (mask.size(0) * trainer.max_completion_length) / ga
    if loss_type == "dapo":  # global token count of the generation batch, split over its accumulation steps
        return total / (inputs["num_items_in_batch"] * ga / trainer.args.steps_per_generation)
    if loss_type == "luspo":
        return (per_token * mask).sum(-1).mean() / ga
    raise AssertionError(loss_type)


def recording_trainer_class():
    """An OGERTrainer that keeps, for every generation batch, the gathered decisions TRL logged for it."""
    from oger_trl import OGERTrainer

    class RecordingTrainer(OGERTrainer):
        def _generate_and_score_completions(self, inputs):
            output = super()._generate_and_score_completions(inputs)
            n = (
                self.args.generation_batch_size
                if self.model.training
                else len(inputs) * self.accelerator.num_processes
            )
            self.batches = getattr(self, "batches", [])
            self.batches.append(
                {
                    "step": self.state.global_step,
                    "prompts": [str(p) for p in list(self._logs["prompt"])[-n:]],
                    "sources": list(self._logs["extra"]["source"])[-n:],
                    "completions": [str(c) for c in list(self._logs["completion"])[-n:]],
                    "rewards": {k: list(v)[-n:] for k, v in self._logs["rewards"].items()},
                    "advantages": list(self._logs["advantages"])[-n:],
                }
            )
            return output

    return RecordingTrainer


HINT_MARK = "reference solution to guide you:"


def hint_aware(trainer_class):
    """`trainer_class` with TRL's sampling replaced by a deterministic rule, so that RGPO's decisions are known: a prompt
    carrying a hint is answered with its rationale; an unguided "What is a + b?" is answered correctly only when a is
    even (other groups fail entirely)."""
    import re

    class HintAware(trainer_class):
        def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
            completions = []
            for ids in prompt_ids:
                prompt = self._tokenizer.decode(ids)
                if HINT_MARK in prompt:
                    answer = prompt.split(HINT_MARK, 1)[1].split("<|im_end|>")[0].strip()
                else:
                    a, b = map(int, re.search(r"What is (\d+) \+ (\d+)", prompt).groups())
                    answer = f"The sum is \\boxed{{{a + b if a % 2 == 0 else a + b + 7}}}."
                completions.append(
                    self._tokenizer(answer, add_special_tokens=False)["input_ids"] + [self.eos_token_ids[0]]
                )
            return completions, None

    return HintAware


def rationale_dataset(n: int = 8, seed: int = 0, wrong: tuple = (), missing: tuple = (), **kwargs) -> Dataset:
    """The arithmetic data with a `rationale` per row: correct, wrong for rows in `wrong`, absent for `missing`."""
    rows = arithmetic_dataset(n, seed, **kwargs).to_list()
    for i, (row, (a, b)) in enumerate(zip(rows, arithmetic_problems(n, seed), strict=True)):
        answer = a + b + 1 if i in wrong else a + b
        row["rationale"] = None if i in missing else f"Add {a} and {b}: \\boxed{{{answer}}}"
    return Dataset.from_list(rows)


def write_gsm8k_style_teachers(path, n: int = 24, seed: int = 0) -> str:
    """Arithmetic problems in the format of GSM8K's `example_model_solutions.jsonl`: a ground truth and four model
    solutions ending in `A: N`, two correct, one wrong, one correct only for even problems."""
    import json

    def solution(a, b, answer, style):
        return {"solution": f"{style} {a} + {b} = {answer}\nA: {answer}", "is_correct": answer == a + b}

    lines = []
    for i, (a, b) in enumerate(arithmetic_problems(n, seed)):
        lines.append(
            {
                "question": f"What is {a} + {b}?",
                "ground_truth": f"We add: {a} + {b} = {a + b}\nA: {a + b}",
                "6b_finetuning": solution(a, b, a + b, "Sum:"),
                "6b_verification": solution(a, b, a + b + 1, "Guess:"),
                "175b_finetuning": solution(a, b, a + b, "Adding,"),
                "175b_verification": solution(a, b, a + b if i % 2 == 0 else a + b - 1, "So"),
            }
        )
    with open(path, "w") as f:
        f.writelines(json.dumps(line) + "\n" for line in lines)
    return str(path)


def execute_notebook(path: str, parameters: dict, workdir, timeout: int = 600, final_cell: str | None = None):
    """Run the notebook at `path` top to bottom in `workdir` with `parameters` injected after its cell tagged
    `parameters` (as papermill does), and `final_cell` appended; any cell error raises. Returns the executed
    notebook."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    (index,) = [i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])]
    assert set(parameters) <= {
        line.split(" =")[0] for line in notebook.cells[index].source.splitlines() if " = " in line
    }
    injected = nbformat.v4.new_code_cell(
        "\n".join(f"{name} = {value!r}" for name, value in parameters.items()),
        metadata={"tags": ["injected-parameters"]},
    )
    notebook.cells.insert(index + 1, injected)
    if final_cell is not None:
        notebook.cells.append(nbformat.v4.new_code_cell(final_cell))
    NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    ).execute()
    return notebook


def free_port() -> int:
    """A TCP port free now on the loopback interface, for a launcher's rendezvous or a test server."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
