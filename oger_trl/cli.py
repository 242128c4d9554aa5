"""`oger-trl`: train | prepare | embed | demo. Also `python -m oger_trl.cli`, e.g. under `accelerate launch -m`."""

import argparse
import sys

from . import __version__
from .errors import UsageError

USAGE = """oger-trl <command> [options]

commands:
  train     run an OGER recipe: oger-trl train --config recipe.yaml [--field value ...]
  prepare   build an OGER dataset: oger-trl prepare {openr1,gsm8k} ...
  embed     precompute the teacher-embedding cache of a recipe's data: oger-trl embed --config recipe.yaml
  evaluate  score a checkpoint on the paper's benchmarks: oger-trl evaluate --model PATH --benchmarks math500,gsm8k
  demo      OGER vs GRPO vs LUFFY-style with SmolLM2-135M, offline, on CPU: oger-trl demo [--task addition|gsm8k]

`oger-trl <command> --help` describes a command's options; `oger-trl --version` prints the version.
"""


def main(argv: list[str] | None = None) -> None:
    """Dispatch to a command. Input errors (`UsageError`: arguments, recipe, data) end with one message and status 1;
    anything else keeps its traceback."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return
    if argv[0] in ("-V", "--version"):
        print(f"oger-trl {__version__}")
        return
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        sys.exit(f"oger-trl: unknown command {command!r}\n\n{USAGE}")
    try:
        COMMANDS[command](rest)
    except UsageError as err:
        sys.exit(f"oger-trl {command}: error: {err}")


def train(argv: list[str]) -> None:
    export_recipe_env(argv)
    from .train import main as run

    run(argv)


def export_recipe_env(argv: list[str]) -> None:
    """Export the recipe's `env:` block before torch, transformers or huggingface_hub are imported: variables they
    read at import (HF_HUB_OFFLINE, HF_HOME, TOKENIZERS_PARALLELISM, ...) then take effect, as the recipe says."""
    path = next((argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--config"), None)
    path = path or next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), None)
    if path is None:
        return
    import os

    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            recipe = yaml.safe_load(f) or {}
    except OSError as err:
        raise UsageError(f"--config {path!r}: {err.strerror}.") from err
    except yaml.YAMLError as err:
        raise UsageError(f"--config {path!r} is not valid YAML: {err}") from err
    env = recipe.get("env", {}) if isinstance(recipe, dict) else {}
    if not isinstance(env, dict):
        raise UsageError(f"--config {path!r}: `env` must be a mapping of variable names to values.")
    os.environ.update({str(key): str(value) for key, value in env.items()})


def demo(argv: list[str]) -> None:
    import importlib.util

    missing = [name for name in ("matplotlib", "scipy") if importlib.util.find_spec(name) is None]
    if missing:  # the `demo` extra's libraries, checked before anything runs
        raise UsageError(
            f"`oger-trl demo` needs the demo extra ({', '.join(missing)} missing): pip install 'oger-trl[demo]'"
        )
    from .demo import main as run

    run(argv)


def prepare_parser() -> argparse.ArgumentParser:
    from .data.openr1 import OPENR1_INSTRUCTION

    parser = argparse.ArgumentParser(prog="oger-trl prepare", description="Build an OGER dataset from teacher traces.")
    sub = parser.add_subparsers(dest="format", required=True)
    openr1 = sub.add_parser("openr1", help="OpenR1-Math-220k-style data, one dataset per teacher")
    openr1.add_argument(
        "--source",
        action="append",
        required=True,
        metavar="TEACHER=PATH_OR_ID",
        help="a teacher name and its dataset (local parquet/jsonl/json or Hub id); repeat for several teachers",
    )
    openr1.add_argument("--split", default="train", help="split of Hub datasets")
    openr1.add_argument("--instruction", default=OPENR1_INSTRUCTION, help="appended to every problem")
    openr1.add_argument("--system-prompt", default=None)
    gsm8k = sub.add_parser("gsm8k", help="GSM8K example_model_solutions.jsonl (4 model teachers)")
    gsm8k.add_argument("--input", required=True, help="path to example_model_solutions.jsonl")
    for p in (openr1, gsm8k):
        p.add_argument("--output", help="output file (.parquet or .jsonl)")
        p.add_argument("--push-to-hub", metavar="REPO_ID", help="push the dataset to this Hub dataset repo")
        p.add_argument("--tokenizer", help="tokenizer (Hub id or folder) used to measure traces and read the template")
        p.add_argument("--max-tokens", type=int, help="drop traces longer than this many tokens (EOS included)")
        p.add_argument(
            "--strip-think",
            choices=["auto", "yes", "no"],
            default="auto",
            help="strip a leading '<think>\\n' from traces; 'auto' does when the tokenizer's chat template opens it",
        )
        p.add_argument("--report", help="also write the report as JSON to this file")
    return parser


def prepare(argv: list[str]) -> None:
    from transformers import AutoTokenizer

    from .data.gsm8k import gsm8k_problems
    from .data.loading import load_table, save_table
    from .data.openr1 import openr1_problems
    from .data.prepare import THINK_OPEN, PrepareReport, assemble
    from .hub import require_hub

    args = prepare_parser().parse_args(argv)
    if not args.output and not args.push_to_hub:
        sys.exit("oger-trl prepare: give --output FILE and/or --push-to-hub REPO_ID")
    if args.max_tokens is not None and not args.tokenizer:
        sys.exit("oger-trl prepare: --max-tokens needs --tokenizer to count tokens")
    if args.push_to_hub:
        require_hub("push the prepared dataset")
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer) if args.tokenizer else None
    report = PrepareReport()
    if args.format == "openr1":
        sources = dict(_teacher_source(spec) for spec in args.source)
        problems = openr1_problems(
            {name: load_table(path, args.split) for name, path in sources.items()},
            report,
            instruction=args.instruction or None,
            system_prompt=args.system_prompt,
        )
    else:
        problems = gsm8k_problems(args.input)
    strip_think = args.strip_think == "yes" or (
        args.strip_think == "auto" and tokenizer is not None and _template_opens_think(tokenizer, THINK_OPEN)
    )
    dataset, report = assemble(
        problems,
        count_tokens=(lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])) if tokenizer else None,
        max_tokens=args.max_tokens,
        strip_think=strip_think,
        report=report,
    )
    print(report)
    if args.report:
        with open(args.report, "w") as f:
            f.write(str(report))
    if args.output:
        save_table(dataset, args.output)
        print(f"{len(dataset)} rows written to {args.output}")
    if args.push_to_hub:
        dataset.push_to_hub(args.push_to_hub)
        print(f"Pushed to https://huggingface.co/datasets/{args.push_to_hub}")


def _teacher_source(spec: str) -> tuple[str, str]:
    name, sep, path = spec.partition("=")
    if not sep or not name or not path:
        sys.exit(f"oger-trl prepare: --source expects TEACHER=PATH_OR_ID, got {spec!r}")
    return name, path


def _template_opens_think(tokenizer, think: str) -> bool:
    if tokenizer.chat_template is None:
        return False
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "x"}], add_generation_prompt=True, tokenize=False
    )
    return prompt.endswith(think)


def embed(argv: list[str]) -> None:
    """Encode the teacher completions of a recipe's datasets into the cache `train` will read."""
    export_recipe_env(argv)
    from .encoder import SentenceEncoder
    from .teacher_cache import TeacherEmbeddings
    from .train import load_datasets, make_parser

    script_args, training_args, _, dataset_args = make_parser("oger-trl embed").parse_args_and_config(args=argv)
    encoder = SentenceEncoder.from_config(training_args)
    store = TeacherEmbeddings(encoder, training_args.teacher_cache_dir)
    for split, dataset in load_datasets(script_args, dataset_args).items():
        path = store.add_dataset(dataset, training_args.teacher_completions_column, show_progress=True)
        print(f"{split}: teacher embeddings cached at {path}")


def evaluate_parser() -> argparse.ArgumentParser:
    from .evaluation import BENCHMARKS

    parser = argparse.ArgumentParser(
        prog="oger-trl evaluate", description="Score a model on math and reasoning benchmarks."
    )
    parser.add_argument(
        "--model", required=True, help="Hub id or local folder of the model (the base, with --adapter)"
    )
    parser.add_argument("--adapter", help="a PEFT (LoRA) adapter folder to apply on --model")
    parser.add_argument(
        "--benchmarks",
        default=",".join(BENCHMARKS),
        help=f"comma-separated names ({', '.join(BENCHMARKS)}), each optionally NAME=local_file",
    )
    parser.add_argument("--n", type=int, default=8, help="samples per problem (avg@n, pass@k)")
    parser.add_argument("--temperature", type=float, default=0.6)
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--max-new-tokens", type=int, default=8192)
    parser.add_argument("--output", default="results", help="folder for results.json, results.md and samples/")
    parser.add_argument("--limit", type=int, help="evaluate only the first N problems of each benchmark")
    parser.add_argument("--backend", choices=["auto", "vllm", "transformers"], default="auto")
    parser.add_argument("--batch-size", type=int, default=8, help="problems per generation call")
    parser.add_argument("--think-gate", action="store_true", help="only text after the first </think> counts")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def evaluate(argv: list[str]) -> None:
    import os

    from .paths import check_model_source

    args = evaluate_parser().parse_args(argv)
    benchmarks = [b.strip() for b in args.benchmarks.split(",") if b.strip()]
    settings = _checked_eval_settings(args)
    check_model_source(args.model, "--model")
    if args.adapter:
        check_model_source(args.adapter, "--adapter", local_only=True)
    import torch

    from .evaluation.benchmarks import load_items
    from .evaluation.generation import make_backend
    from .evaluation.overlap import overlap_counts, read_training_questions
    from .evaluation.runner import evaluate as run

    items = [load_items(spec, settings.limit) for spec in benchmarks]  # bad names, files or columns: before the model
    trained = read_training_questions(args.adapter, args.model if os.path.isdir(args.model) else None)
    overlap = overlap_counts(items, trained) if trained is not None else None
    torch.manual_seed(args.seed)
    identity = {"model": args.model, "adapter": args.adapter, "dtype": args.dtype, "seed": args.seed}
    generator = make_backend(args.backend, args.model, args.adapter, args.dtype)
    run(generator, items, args.output, settings, identity, overlap)
    with open(f"{args.output}/results.md") as f:
        print(f.read())


def _checked_eval_settings(args: argparse.Namespace):
    from .evaluation.runner import EvalSettings

    for name in ("n", "batch_size", "max_new_tokens"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}.")
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit must be at least 1 (or left out for every problem), got {args.limit}.")
    if args.temperature < 0 or not 0 < args.top_p <= 1:
        raise UsageError(f"--temperature must be >= 0 and --top-p in (0, 1], got {args.temperature} and {args.top_p}.")
    return EvalSettings(
        n=args.n,
        temperature=args.temperature,
        top_p=args.top_p,
        max_new_tokens=args.max_new_tokens,
        think_gate=args.think_gate,
        batch_size=args.batch_size,
        limit=args.limit,
    )


COMMANDS = {"train": train, "prepare": prepare, "embed": embed, "evaluate": evaluate, "demo": demo}

if __name__ == "__main__":
    main()
