"""A user's first hour: every bad input is refused with a message that names it and says what to do, before any model
is loaded or any compute starts; nothing is silently wrong (a mismatched evaluation folder, a splice that can never
happen, a benchmark that was trained on); the CLI answers help and argument errors without importing torch."""

import json
import logging
import os
import subprocess
import sys
from unittest.mock import patch

import pytest
from datasets import Dataset
from helpers import arithmetic_dataset, make_trainer, needs_shared, shared_path

from oger_trl.cli import main as oger_trl
from oger_trl.data.loading import load_table
from oger_trl.errors import UsageError

ROOT = os.path.join(os.path.dirname(__file__), "..")


def cli_error(*argv: str) -> str:
    """The one-line message `oger-trl` exits with (status 1)."""
    with pytest.raises(SystemExit) as exit_info:
        oger_trl(list(argv))
    assert isinstance(exit_info.value.code, str), exit_info.value.code
    return exit_info.value.code


def python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env={**os.environ, **env}
    )


# --- the install and the command line -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv", [["--help"], ["--version"], ["fly"], ["evaluate", "--model", "x", "--n", "0"], ["demo", "--steps", "0"]]
)
def test_help_and_argument_errors_answer_without_importing_torch(argv):
    code = (
        "import sys\nfrom oger_trl.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    result = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]


HEAVY_MODULES = ("torch", "transformers", "datasets", "math_verify")


@pytest.mark.parametrize(
    "command", ["train", "embed", "prepare", "prepare openr1", "prepare gsm8k", "generate", "evaluate", "demo"]
)
def test_every_command_answers_help_without_importing_torch_transformers_or_datasets(command):
    code = (
        "import sys\nfrom oger_trl.cli import main\nmain(sys.argv[1:])\n"
        f"assert not [m for m in {HEAVY_MODULES!r} if m in sys.modules], [m for m in {HEAVY_MODULES!r} if m in sys.modules]"
    )
    result = subprocess.run([sys.executable, "-c", code, *command.split(), "--help"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith(f"usage: oger-trl {command}")


def test_the_stored_help_texts_are_what_the_parsers_print():
    """`python -m oger_trl.cli_help` regenerates them after a change to a parser or a config field."""
    from oger_trl._help_texts import HELP_TEXTS
    from oger_trl.cli_help import render_help

    assert render_help() == HELP_TEXTS


def test_the_version_is_defined_once_and_reported():
    from importlib.metadata import version

    import oger_trl

    assert version("oger-trl") == oger_trl.__version__
    result = python("from oger_trl.cli import main; main(['--version'])")
    assert result.stdout.strip() == f"oger-trl {oger_trl.__version__}"


def test_every_module_the_package_imports_is_a_declared_dependency():
    import ast
    import re
    from importlib.metadata import packages_distributions

    import tomllib

    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    declared = {re.split(r"[<>=\[ ;]", d)[0].lower().replace("_", "-") for d in project["dependencies"]}
    extras = {
        re.split(r"[<>=\[ ;]", d)[0].lower().replace("_", "-")
        for deps in project["optional-dependencies"].values()
        for d in deps
    }
    distributions = packages_distributions()
    undeclared = set()
    for folder, _, files in os.walk(os.path.join(ROOT, "oger_trl")):
        for name in (f for f in files if f.endswith(".py")):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.level == 0:
                    modules = [node.module]
                for module in modules:
                    top = module.split(".")[0]
                    if top in sys.stdlib_module_names or top == "oger_trl":
                        continue
                    dists = {d.lower().replace("_", "-") for d in distributions.get(top, [top])}
                    if not dists & declared and not dists & extras:
                        undeclared.add(f"{top} ({name})")
    # optional extras (vllm, deepspeed) count as declared: they are imported only where their feature is asked for
    assert not undeclared, f"imported but not declared in pyproject.toml: {sorted(undeclared)}"


def test_a_push_without_a_token_fails_before_anything_loads(monkeypatch):
    from oger_trl import hub

    monkeypatch.setattr(hub, "hub_unreachable_reason", lambda timeout=5.0: None)  # the Hub answers
    monkeypatch.setattr(hub, "get_token", lambda: None)
    with pytest.raises(
        UsageError, match=r"Cannot push the model: no Hugging Face token was found. Run `hf auth login`"
    ):
        hub.require_hub("push the model")
    hub.require_hub("push the model", token="hf_x")  # a token passed explicitly (--hub_token) is enough


def test_train_help_leads_with_a_description_config_and_the_oger_fields(capsys):
    from oger_trl.train import main as train

    assert train(["--help"]) is None
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].startswith("usage: oger-trl train --config RECIPE.yaml")
    assert "  --config RECIPE.yaml" in text and "--help-all" in text
    for field in ("--num_offline_per_group", "--exploration_coef", "--teacher_cache_dir", "--reward_funcs"):
        assert field in text
    assert "--per_device_train_batch_size" not in text and len(lines) < 200  # TRL's fields are in --help-all


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        ("num_offline_per_group: 8\nnum_generations: 8\n", "`num_offline_per_group` must be in [0, num_generations)"),
        ("model_name_or_path: ./no/such/model\ndataset_name: d.jsonl\n", "model_name_or_path './no/such/model'"),
        ("env: [1, 2]\n", "`env` must be a mapping"),
    ],
    ids=["bad-field", "missing-model", "bad-env"],
)
def test_expected_errors_print_one_message_and_exit_1_without_a_traceback(tmp_path, recipe, message):
    path = tmp_path / "recipe.yaml"
    path.write_text(recipe + f"output_dir: {tmp_path}/run\nuse_cpu: true\nbf16: false\nreport_to: none\n")
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "oger-trl"), "train", "--config", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("oger-trl train: error: ")


def test_a_recipe_env_block_is_applied_before_the_hub_library_reads_it(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text(
        "env:\n  HF_HUB_OFFLINE: 1\nmodel_name_or_path: x/y\ndataset_name: d.jsonl\npush_to_hub: true\n"
        f"hub_model_id: someone/model\noutput_dir: {tmp_path}/run\nuse_cpu: true\nbf16: false\n"
    )
    # the process itself is online but points at a closed port: only the recipe's HF_HUB_OFFLINE explains the message
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "oger-trl"), "train", "--config", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://127.0.0.1:9"},
    )
    assert result.returncode != 0
    assert "the Hugging Face Hub is unreachable (HF_HUB_OFFLINE is set)" in result.stderr


def test_a_single_name_in_yaml_is_a_one_element_list(tmp_path):
    from oger_trl.train import make_parser

    path = tmp_path / "recipe.yaml"
    path.write_text(f"teachers: alice\nreward_funcs: accuracy_reward\noutput_dir: {tmp_path}\nuse_cpu: true\n")
    script_args, training_args, _, _ = make_parser().parse_args_and_config(args=["--config", str(path)])
    assert training_args.teachers == ["alice"]
    assert script_args.reward_funcs == ["accuracy_reward"]


# --- data files ------------------------------------------------------------------------------------------------------


def test_bad_data_files_are_named_with_the_problem(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "empty.parquet").write_bytes(b"")
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes(b'{"prompt": "ok"}\n{"prompt": "caf\xe9"}\n')
    good = tmp_path / "good.parquet"
    arithmetic_dataset(4).to_parquet(good)
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    zero_rows = tmp_path / "zero.parquet"
    arithmetic_dataset(4).select([]).to_parquet(zero_rows)
    broken_json = tmp_path / "broken.jsonl"
    broken_json.write_text('{"prompt": "a", "solution": "1"}\n{"prompt": "b", "solution": 2\n{"prompt": "c"}\n')
    cases = {
        str(tmp_path / "missing.jsonl"): "not found (a local path, so the Hub was not asked)",
        "./data/train": "not found (a local path, so the Hub was not asked)",
        str(tmp_path / "empty.jsonl"): "is empty: it holds no rows",
        str(tmp_path / "empty.parquet"): "is empty: it holds no rows",
        str(latin1): "line 2 is not UTF-8",
        str(truncated): "not a readable parquet file, e.g. truncated or corrupt",
        str(zero_rows): "holds no rows",
        str(broken_json): "line 2 is not valid JSON (Expecting ',' delimiter, column 30)",
    }
    for path, message in cases.items():
        with pytest.raises(UsageError) as error:
            load_table(path)
        assert message in str(error.value) and os.path.basename(path) in str(error.value), path


def test_a_dataset_without_the_column_a_reward_needs_is_refused_before_the_model_loads(tmp_path, tokenizer, encoder):
    from trl.rewards import accuracy_reward

    from oger_trl import OGERConfig, OGERTrainer

    dataset = arithmetic_dataset(4).remove_columns("solution")
    args = OGERConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, report_to="none")
    with pytest.raises(UsageError, match=r"train_dataset has no column 'solution', which the reward function "):
        OGERTrainer(str(tmp_path / "no-model-here"), [accuracy_reward], args, dataset, encoder=encoder)


def test_an_empty_training_dataset_is_refused(tmp_path, tokenizer, encoder):
    with pytest.raises(UsageError, match="train_dataset has no rows: there is nothing to train on"):
        make_trainer(tmp_path, tokenizer, encoder, dataset=arithmetic_dataset(4).select([]))


# --- splicing that cannot happen ------------------------------------------------------------------------------------


def test_start_up_says_how_many_prompts_can_splice_and_refuses_when_none_can(tmp_path, tokenizer, encoder, caplog):
    # the three teachers of the arithmetic data are 20-30 tokens long in the test tokenizer
    with pytest.raises(UsageError, match=r"Of 8 prompts, 8 have teachers and 0 have a teacher completion of at most"):
        make_trainer(tmp_path, tokenizer, encoder, max_completion_length=4)
    make_trainer(tmp_path, tokenizer, encoder, max_completion_length=4, num_offline_per_group=0)  # no splice: fine

    shortest = sorted(min(_lengths(tokenizer, row)) for row in arithmetic_dataset(8))
    budget = shortest[3]  # about half of the prompts have a teacher that fits
    expected = sum(n <= budget for n in shortest)
    with caplog.at_level(logging.WARNING, logger="oger_trl.trainer"):
        make_trainer(tmp_path, tokenizer, encoder, max_completion_length=budget)
    assert f"Of 8 prompts, 8 have teachers and {expected} have a teacher completion of at most" in caplog.text
    assert 0 < expected < 8


def _lengths(tokenizer, row) -> list[int]:
    return [len(tokenizer(t, add_special_tokens=False)["input_ids"]) + 1 for t in row["teacher_completions"]]


def test_start_up_prints_the_dataset_summary_and_a_progress_bar_while_encoding(tmp_path, tokenizer, encoder, capsys):
    make_trainer(tmp_path, tokenizer, encoder)
    captured = capsys.readouterr()
    assert "train_dataset: 8 prompts, 24 teacher completions, 0 prompts without teachers" in captured.out
    assert "Encoding 24 teacher completions with" in captured.out
    assert "Encoding teacher completions: 100%" in captured.err  # the bar
    make_trainer(tmp_path, tokenizer, encoder)  # the cache exists now: nothing to encode, no bar
    assert "Encoding teacher completions" not in capsys.readouterr().err


# --- the teacher cache ----------------------------------------------------------------------------------------------


def test_an_unwritable_cache_folder_is_refused_before_encoding(tmp_path, encoder):
    from oger_trl import TeacherEmbeddings

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    store = TeacherEmbeddings(encoder, str(blocker / "cache"))
    before = encoder.num_texts_encoded
    refusal = r"teacher_cache_dir '.*a-file/cache' cannot be created \(Not a directory\)\. Point `teacher_cache_dir`"
    with pytest.raises(UsageError, match=refusal):
        store.add_dataset(arithmetic_dataset(4), "teacher_completions")
    assert encoder.num_texts_encoded == before


def test_cache_files_follow_the_umask(tmp_path, encoder):
    from oger_trl import TeacherEmbeddings

    previous = os.umask(0o022)
    try:
        path = TeacherEmbeddings(encoder, str(tmp_path)).add_dataset(arithmetic_dataset(4), "teacher_completions")
    finally:
        os.umask(previous)
    assert os.stat(path).st_mode & 0o777 == 0o644


# --- evaluation ------------------------------------------------------------------------------------------------------


@pytest.fixture
def no_model_loading():
    with patch("oger_trl.evaluation.generation.make_backend", side_effect=AssertionError("a model was loaded")):
        yield


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--n", "0"], "--n must be at least 1, got 0"),
        (["--limit", "-1"], "--limit must be at least 1 (or left out), got -1"),
        (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
        (["--benchmarks", "gsm9k"], "Unknown benchmark 'gsm9k' in --benchmarks"),
        (["--benchmarks", "gsm8k=./nowhere.jsonl"], "Data file './nowhere.jsonl' not found"),
        (["--model", "./no/such/model"], "--model './no/such/model': no such folder"),
        (["--adapter", "missing-adapter"], "--adapter 'missing-adapter': no such folder"),
    ],
)
def test_evaluate_checks_its_arguments_before_loading_a_model(tmp_path, no_model_loading, extra, message):
    data = tmp_path / "bench.jsonl"
    data.write_text(json.dumps({"question": "1+1?", "answer": "#### 2"}) + "\n")
    argv = ["evaluate", "--model", str(tmp_path), "--benchmarks", f"gsm8k={data}", "--output", str(tmp_path / "o")]
    assert message in cli_error(*argv, *extra)


def test_evaluate_names_the_row_and_columns_of_a_benchmark_file_it_cannot_read(tmp_path, no_model_loading):
    data = tmp_path / "bench.jsonl"
    data.write_text(json.dumps({"question": "1+1?", "answer": "#### 2"}) + "\n" + json.dumps({"q": "x"}) + "\n")
    message = cli_error("evaluate", "--model", str(tmp_path), "--benchmarks", f"gsm8k={data}")
    assert f"Benchmark gsm8k, {data}, row 2: cannot read the row as a gsm8k item" in message  # counted from 1
    assert "Columns found: ['answer', 'q', 'question']" in message  # the JSON reader fills absent columns with null


def test_evaluate_refuses_a_folder_holding_another_runs_samples(tmp_path):
    from oger_trl.evaluation.benchmarks import load_items
    from oger_trl.evaluation.runner import EvalSettings, evaluate

    data = tmp_path / "bench.jsonl"
    data.write_text("".join(json.dumps({"question": f"{i}+1?", "answer": f"#### {i + 1}"}) + "\n" for i in range(3)))
    benchmarks = [load_items(f"gsm8k={data}")]
    out = str(tmp_path / "results")
    evaluate(_Echo(), benchmarks, out, EvalSettings(n=1, batch_size=2), {"model": "first"})
    with pytest.raises(UsageError, match=r"holds the samples of another run \(model: 'first' there, 'second' now\)"):
        evaluate(_Echo(), benchmarks, out, EvalSettings(n=1, batch_size=2), {"model": "second"})
    with pytest.raises(UsageError, match=r"temperature: 0.6 there, 0.0 now"):
        evaluate(_Echo(), benchmarks, out, EvalSettings(n=1, batch_size=2, temperature=0.0), {"model": "first"})
    os.remove(os.path.join(out, "run.json"))  # samples with no record of their run
    with pytest.raises(UsageError, match="holds samples with no record of the model and settings"):
        evaluate(_Echo(), benchmarks, out, EvalSettings(n=1, batch_size=2), {"model": "first"})


class _Echo:
    """A generation backend that answers every prompt with its first number."""

    def render(self, message: str) -> str:
        return message

    def generate(self, prompts, n, temperature, top_p, max_new_tokens):
        from oger_trl.evaluation.generation import Completion

        return [[Completion(f"\\boxed{{{p.split('+')[0]}}}", 3, False)] * n for p in prompts]


@needs_shared(shared_path("data", "gsm8k", "test.jsonl"))
def test_training_on_gsm8k_teacher_problems_is_flagged_when_evaluating_gsm8k_test(tmp_path):
    from oger_trl.data.gsm8k import gsm8k_teacher_dataset
    from oger_trl.evaluation.benchmarks import load_items
    from oger_trl.evaluation.overlap import overlap_counts, read_training_questions, write_training_questions
    from oger_trl.evaluation.runner import EvalSettings, evaluate

    train = gsm8k_teacher_dataset(shared_path("data", "gsm8k", "example_model_solutions.jsonl"))
    write_training_questions(train["prompt"], str(tmp_path / "model"))
    trained = read_training_questions(None, str(tmp_path / "model"))
    test = load_items(f"gsm8k={shared_path('data', 'gsm8k', 'test.jsonl')}", limit=50)
    held_out = load_items(f"gsm8k={shared_path('data', 'gsm8k', 'train.jsonl')}", limit=50)
    # example_model_solutions.jsonl holds GSM8K's test problems: every one of them was trained on
    assert overlap_counts([test], trained) == {"gsm8k": 50}
    assert overlap_counts([held_out], trained) == {"gsm8k": 0}
    results = evaluate(_Echo(), [test], str(tmp_path / "r"), EvalSettings(n=1, batch_size=25), {}, {"gsm8k": 50})
    assert results["overlap_with_training"] == {"gsm8k": 50}
    report = (tmp_path / "r" / "results.md").read_text()
    assert "Warning: 50 of 50 gsm8k problems are among the model's training prompts" in report


def test_the_default_config_trains_in_fp32_on_a_machine_without_a_bf16_gpu(tmp_path):
    import torch

    from oger_trl import OGERConfig

    if torch.cuda.is_available():
        pytest.skip("a GPU machine")
    args = OGERConfig(output_dir=str(tmp_path), report_to="none")  # the README quickstart, as a CPU user runs it
    assert args.bf16 is False
    with pytest.raises(ValueError, match="Your setup doesn't support bf16/gpu"):
        OGERConfig(output_dir=str(tmp_path), report_to="none", bf16=True)  # an explicit choice is not overridden


def test_an_oger_config_raises_no_deprecation_warning_of_its_own(tmp_path):
    import warnings

    from oger_trl import OGERConfig

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        args = OGERConfig(output_dir=str(tmp_path), report_to="none")
    assert not [w for w in caught if issubclass(w.category, (FutureWarning, DeprecationWarning))]
    assert args.activation_checkpointing is True and args.gradient_checkpointing is True  # TRL's default, kept
    assert (
        OGERConfig(output_dir=str(tmp_path), report_to="none", activation_checkpointing=False).gradient_checkpointing
        is False
    )


def test_the_teacher_cache_progress_bar_moves_every_few_hundred_texts(tmp_path, encoder, monkeypatch):
    from tqdm.auto import tqdm

    from oger_trl import TeacherEmbeddings

    steps = []
    original = tqdm.update
    monkeypatch.setattr(tqdm, "update", lambda self, n=1: steps.append(n) or original(self, n))
    texts = [f"teacher solution number {i}" for i in range(600)]
    dataset = Dataset.from_dict({"teacher_completions": [texts[i : i + 3] for i in range(0, 600, 3)]})
    TeacherEmbeddings(encoder, str(tmp_path)).add_dataset(dataset, "teacher_completions", show_progress=True)
    assert steps == [256, 256, 88]


def test_the_demo_without_its_extra_names_the_extra(monkeypatch):
    import importlib.util

    from oger_trl.cli import main

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "scipy" else find_spec(name, *a))
    with pytest.raises(SystemExit, match=r"needs the demo extra \(scipy missing\): pip install 'oger-trl\[demo\]'"):
        main(["demo", "--steps", "1"])


def test_tests_on_shared_data_skip_where_it_is_absent_and_fail_where_it_must_be(monkeypatch):
    def uses_data():
        return "ran"

    monkeypatch.delenv("OGER_REQUIRE_SHARED_DATA", raising=False)
    assert any(mark.name == "skip" for mark in needs_shared("/no/such/file")(uses_data).pytestmark)
    monkeypatch.setenv("OGER_REQUIRE_SHARED_DATA", "1")  # as in CI
    with pytest.raises(pytest.fail.Exception, match="shared data not found at /no/such/file: set OGER_SHARED_DIR"):
        needs_shared("/no/such/file")(uses_data)()
    assert needs_shared(__file__)(uses_data)() == "ran"


# --- paths and tokenizer-only checks: before any weights load -------------------------------------------------------


@pytest.fixture
def weightless_recipe(tmp_path, tokenizer):
    """A recipe whose policy folder holds a tokenizer and a config but no weights: a refusal that comes after the
    weights would load fails with transformers' missing-weights error instead of the expected message."""
    from helpers import build_model

    policy = tmp_path / "policy"
    tokenizer.save_pretrained(policy)
    build_model(tokenizer).config.save_pretrained(policy)
    data = tmp_path / "data.jsonl"
    arithmetic_dataset(8).to_json(str(data))

    def write(**fields) -> str:
        recipe = {
            "model_name_or_path": str(policy),
            "dataset_name": str(data),
            "output_dir": str(tmp_path / "run"),
            "use_cpu": True,
            "bf16": False,
            "report_to": "none",
            **fields,
        }
        path = tmp_path / "recipe.yaml"
        path.write_text("".join(f"{key}: {json.dumps(value)}\n" for key, value in recipe.items()))
        return str(path)

    return write


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"encoder_name_or_path": "./no/such/encoder"}, "encoder_name_or_path './no/such/encoder': no such folder"),
        (
            {"resume_from_checkpoint": "./no/checkpoint-5"},
            "resume_from_checkpoint './no/checkpoint-5': no such folder",
        ),
        (
            {"resume_from_checkpoint": True},
            "resume_from_checkpoint=True, but '{tmp}/run' holds no complete checkpoint",
        ),
        ({"output_dir": "{tmp}/a-file/run"}, "output_dir '{tmp}/a-file/run' cannot be created (Not a directory)"),
        (  # sysfs takes no new files, even from root, whom a read-only mode bit would not stop (the reason is
            # "Permission denied", or "Read-only file system" where a container mounts /sys read-only)
            {"teacher_cache_dir": "/sys/kernel"},
            "teacher_cache_dir '/sys/kernel' is not writable (",
        ),
        ({"max_completion_length": 4}, "No teacher completion fits, so splicing would never happen"),
        ({"eval_benchmarks": ["gsm9k"]}, "Unknown benchmark 'gsm9k' in eval_benchmarks; known: ["),
        (
            {"reward_funcs": ["no_such_module.score"]},
            "`reward_funcs='no_such_module.score'`: cannot import 'score' from 'no_such_module' (No module named",
        ),
        ({"reward_funcs": ["json.__doc__"]}, "`reward_funcs='json.__doc__'` names a str, not a function."),
    ],
    ids=[
        "missing-encoder",
        "missing-checkpoint",
        "no-checkpoint-to-resume",
        "output-under-a-file",
        "cache-not-writable",
        "no-teacher-fits",
        "unknown-eval-benchmark",
        "reward-not-importable",
        "reward-not-a-function",
    ],
)
def test_paths_and_teacher_lengths_are_refused_in_one_line_before_any_weights_load(
    tmp_path, weightless_recipe, fields, message
):
    (tmp_path / "a-file").write_text("")
    fields = {k: v.format(tmp=tmp_path) if isinstance(v, str) else v for k, v in fields.items()}
    error = cli_error("train", "--config", weightless_recipe(**fields))
    assert error.startswith("oger-trl train: error: ") and "\n" not in error
    assert message.format(tmp=tmp_path) in error


def test_truncated_policy_weights_are_one_line_naming_the_model(tmp_path, weightless_recipe, tokenizer):
    """The one refusal that needs the weights: a cut .safetensors file is found by reading it."""
    from helpers import build_model

    build_model(tokenizer).save_pretrained(tmp_path / "policy")
    weights = tmp_path / "policy" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    error = cli_error("train", "--config", weightless_recipe())
    assert error.startswith(f"oger-trl train: error: cannot read the weights of '{tmp_path / 'policy'}' or of the")
    assert "truncated or corrupt .safetensors file" in error and "\n" not in error


def test_train_without_a_recipe_or_policy_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    error = cli_error("train")
    assert error == (
        "oger-trl train: error: no policy to train: give --config RECIPE.yaml (with model_name_or_path) or "
        "--model_name_or_path"
    )
    assert list(tmp_path.iterdir()) == []  # not even transformers' default output_dir


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["gsm8k", "--input", "x.jsonl"], "give --output FILE and/or --push-to-hub REPO_ID"),
        (
            ["gsm8k", "--input", "x.jsonl", "--output", "o.parquet", "--max-tokens", "9"],
            "--max-tokens needs --tokenizer",
        ),
        (["openr1", "--source", "r1", "--output", "o.parquet"], "--source expects TEACHER=PATH_OR_ID, got 'r1'"),
    ],
    ids=["no-output", "max-tokens-without-tokenizer", "source-without-name"],
)
def test_prepare_argument_mistakes_read_like_every_other_refusal(argv, message):
    assert cli_error("prepare", *argv).startswith(f"oger-trl prepare: error: {message}")


def test_prepare_names_a_source_without_generations_in_one_line(tmp_path):
    source = tmp_path / "traces.jsonl"
    source.write_text(json.dumps({"problem": "1+1?", "answer": "2"}) + "\n")
    error = cli_error("prepare", "openr1", "--source", f"r1={source}", "--output", str(tmp_path / "out.parquet"))
    assert error.startswith("oger-trl prepare: error: Teacher source 'r1' lacks column(s) ['generations']")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("num_generations: many", "{path}: `num_generations` expects a value of type int, got 'many'."),
        ("explorashun_coef: 1.0", "{path}: unknown field `explorashun_coef` (did you mean `exploration_coef`?)."),
    ],
    ids=["wrong-type", "unknown-field"],
)
def test_a_recipe_mistake_is_one_line_naming_the_file_and_the_field(tmp_path, line, message):
    path = tmp_path / "recipe.yaml"
    path.write_text(f"model_name_or_path: x/y\n{line}\n")
    error = cli_error("train", "--config", str(path))
    assert error.startswith("oger-trl train: error: " + message.format(path=path)) and "\n" not in error


def test_a_recipe_that_is_not_yaml_is_one_line_with_the_line_and_column(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text("model_name_or_path: x/y\nteachers: [alice\n")
    error = cli_error("train", "--config", str(path))
    assert error.startswith(f"oger-trl train: error: --config '{path}' is not valid YAML at line 3, column 1: ")
    assert "\n" not in error


def test_an_unknown_flag_on_the_command_line_gets_the_closest_field(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text("model_name_or_path: x/y\n")
    error = cli_error("train", "--config", str(path), "--num_generatons", "4")
    assert "the command line: unknown field `num_generatons` (did you mean `num_generations`?)" in error


def test_an_empty_reward_column_is_refused_with_its_row_before_any_model_loads(tmp_path, tokenizer, encoder):
    rows = arithmetic_dataset(4).to_list()
    rows[2]["solution"] = " "
    with pytest.raises(UsageError, match=r"train_dataset, row 3, column 'solution' is empty: a reward function"):
        make_trainer(tmp_path, tokenizer, encoder, dataset=Dataset.from_list(rows))


def test_a_prompt_repeated_with_another_solution_is_named_in_a_warning(tmp_path, tokenizer, encoder, caplog):
    rows = arithmetic_dataset(4).to_list()
    rows[3] = {**rows[1], "solution": "-1"}
    with caplog.at_level(logging.WARNING, logger="oger_trl.rewards"):
        make_trainer(tmp_path, tokenizer, encoder, dataset=Dataset.from_list(rows))
    assert "train_dataset, row 4 repeats the prompt of row 2 with another ['solution']" in caplog.text


def test_a_reward_function_that_never_scores_is_named_once(tmp_path, tokenizer, encoder, caplog):
    def never_scores(completions, **kwargs):
        return [None] * len(completions)

    trainer = make_trainer(tmp_path, tokenizer, encoder, reward_funcs=[never_scores], max_steps=2)
    with caplog.at_level(logging.WARNING, logger="oger_trl.trainer"):
        trainer.train()
    warnings = [r.message for r in caplog.records if "returned None or NaN" in r.message]
    assert len(warnings) == 1 and "['never_scores']" in warnings[0]
    assert "No function scored any completion: this batch trains on nothing." in warnings[0]


def test_the_start_up_summary_counts_the_teachers_training_uses(tmp_path, tokenizer, encoder, capsys):
    make_trainer(tmp_path, tokenizer, encoder, teachers=["alice"])
    out = capsys.readouterr().out
    data = arithmetic_dataset(8)
    alice = sum(name == "alice" for names in data["teacher_sources"] for name in names)
    assert f"teacher completions ({alice} of them from `teachers` ['alice'])" in out


def test_a_saved_model_follows_the_umask_like_the_rest_of_its_folder(tmp_path, tokenizer, encoder):
    trainer = make_trainer(tmp_path, tokenizer, encoder)
    previous = os.umask(0o022)
    try:
        trainer.save_model(str(tmp_path / "saved"))
    finally:
        os.umask(previous)
    folder = tmp_path / "saved"
    modes = {name: os.stat(folder / name).st_mode & 0o777 for name in os.listdir(folder) if (folder / name).is_file()}
    assert modes["model.safetensors"] == 0o644 and set(modes.values()) == {0o644}, modes
