"""`oger-trl`: train | prepare | generate | embed | evaluate | demo. Also `python -m oger_trl.cli`, e.g. under `accelerate launch -m`."""

import argparse
import sys

from . import __version__
from .errors import UsageError

USAGE = """oger-trl <command> [options]

commands:
  train     run an OGER recipe: oger-trl train --config recipe.yaml [--field value ...]
  prepare   build an OGER dataset: oger-trl prepare {openr1,gsm8k} ...
  generate  sample a teacher's traces on problems: oger-trl generate --problems FILE --model M --output traces.parquet
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
    from .cli_help import help_key, stored_help

    key = help_key(command, rest)
    if key is not None and stored_help(key) is not None:  # no parser built: they import torch (seconds)
        print(stored_help(key), end="")
        return
    try:
        COMMANDS[command](rest)
    except UsageError as err:
        sys.exit(f"oger-trl {command}: error: {err}")


def train(argv: list[str]) -> None:
    export_recipe_env(argv)
    from .process_exit import exit_finished_multi_process_run
    from .train import main as run

    run(argv)
    exit_finished_multi_process_run()  # everything is saved: skip the interpreter finalization gloo can abort in


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
    except yaml.YAMLError as err:  # its text spans lines: keep the problem and where it is
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise UsageError(
            f"--config {path!r} is not valid YAML{where}: {getattr(err, 'problem', None) or err}."
        ) from err
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
        raise UsageError("give --output FILE and/or --push-to-hub REPO_ID")
    if args.max_tokens is not None and not args.tokenizer:
        raise UsageError("--max-tokens needs --tokenizer to count tokens")
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
        raise UsageError(f"--source expects TEACHER=PATH_OR_ID, got {spec!r}")
    return name, path


def _template_opens_think(tokenizer, think: str) -> bool:
    if tokenizer.chat_template is None:
        return False
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "x"}], add_generation_prompt=True, tokenize=False
    )
    return prompt.endswith(think)


def generate_parser() -> argparse.ArgumentParser:
    from .data.openr1 import OPENR1_INSTRUCTION

    parser = argparse.ArgumentParser(
        prog="oger-trl generate",
        description="Sample a teacher model's traces on a set of problems, grade them with math-verify, and write "
        "them in the OpenR1-Math-220k format `oger-trl prepare openr1 --source NAME=FILE` reads. Resumable: rerun the "
        "same command after an interruption.",
    )
    data = parser.add_argument_group("problems")
    data.add_argument("--problems", required=True, help="a local parquet/jsonl/json file or a Hub dataset id")
    data.add_argument("--split", default="train", help="split of a Hub dataset")
    data.add_argument("--problem-column", default="problem")
    data.add_argument(
        "--answer-column", default="answer", help="the final answer (a GSM8K-style '... #### N' becomes N)"
    )
    data.add_argument("--solution-column", default="solution", help="a reference solution, passed through if present")
    data.add_argument("--limit", type=int, help="only the first N problems")
    data.add_argument("--shard", default="0/1", metavar="I/N", help="this process's slice of the problems")
    model = parser.add_argument_group("teacher")
    model.add_argument("--model", required=True, help="Hub id or folder (local engines), or the served model name")
    model.add_argument("--teacher", help="the teacher's name in the report (default: the model's last path part)")
    model.add_argument(
        "--engine",
        choices=["auto", "vllm", "transformers", "endpoint"],
        default="auto",
        help="auto: endpoint with --base-url, else vLLM if installed and a GPU is present, else transformers",
    )
    model.add_argument("--dtype", default="auto")
    model.add_argument(
        "--batch-size", type=int, help="problems per engine call, also the unit saved (default: vLLM 256, else 8)"
    )
    model.add_argument("--tensor-parallel-size", type=int, default=1, help="vLLM: GPUs per model copy")
    model.add_argument(
        "--data-parallel-size", type=int, default=1, help="local engines: model copies, one process and shard each"
    )
    model.add_argument("--max-model-len", type=int, help="vLLM: context length (default: the model's)")
    model.add_argument(
        "--engine-arg", action="append", default=[], metavar="KEY=VALUE", help="any other vllm.LLM argument"
    )
    server = parser.add_argument_group("endpoint (OpenAI-compatible server, e.g. `vllm serve`)")
    server.add_argument("--base-url", help="e.g. http://127.0.0.1:8000/v1")
    server.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    server.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    server.add_argument(
        "--retries", type=int, default=5, help="retries of a request on 408/429/5xx or lost connection"
    )
    server.add_argument("--request-timeout", type=float, default=3600.0, help="seconds per request")
    sampling = parser.add_argument_group("sampling")
    sampling.add_argument("--n", type=int, default=4, help="generations per problem")
    sampling.add_argument("--temperature", type=float, default=0.6)
    sampling.add_argument("--top-p", type=float, default=0.95)
    sampling.add_argument("--max-new-tokens", type=int, default=8192)
    sampling.add_argument("--seed", type=int, default=0)
    sampling.add_argument("--instruction", default=OPENR1_INSTRUCTION, help="appended to every problem")
    sampling.add_argument("--system-prompt", default=None)
    parser.add_argument("--output", required=True, help="the traces file (.parquet or .jsonl)")
    return parser


def generate(argv: list[str]) -> None:
    from .teacher_traces.run import claim, generate_traces, launch_data_parallel

    args = generate_parser().parse_args(argv)
    job = _generate_job(args)
    if args.data_parallel_size > 1:
        claim(job)  # refusals once, before any process starts
        launch_data_parallel(job, argv, args.data_parallel_size, args.tensor_parallel_size)
    else:
        generate_traces(job)


def _generate_job(args: argparse.Namespace):
    import importlib.util
    import os

    from .paths import check_model_source
    from .teacher_traces.engines import Endpoint, Sampling
    from .teacher_traces.problems import Columns, parse_shard
    from .teacher_traces.run import GenerateJob

    _check_counts(args, ("n", "max_new_tokens", "concurrency", "tensor_parallel_size", "data_parallel_size"))
    _check_counts(args, ("batch_size", "limit", "max_model_len"), optional=True)
    if args.retries < 0:
        raise UsageError(f"--retries must be 0 or more, got {args.retries}.")
    _check_sampling(args)
    if args.temperature == 0 and args.n > 1:
        raise UsageError(
            f"--temperature 0 is greedy: its --n {args.n} samples would be one; sample with a temperature."
        )
    engine = args.engine
    if engine == "auto":
        engine = "endpoint" if args.base_url else _local_engine()
    if (engine == "endpoint") != bool(args.base_url):
        raise UsageError("--base-url goes with --engine endpoint (or auto), and --engine endpoint needs --base-url.")
    if engine == "endpoint" and args.data_parallel_size > 1:
        raise UsageError(
            "--data-parallel-size is for local engines; a server parallelises itself (use --concurrency)."
        )
    if args.data_parallel_size > 1 and args.shard != "0/1":
        raise UsageError("--data-parallel-size makes its own shards: leave --shard out.")
    needed = {"endpoint": "openai", "vllm": "vllm"}.get(engine)
    if needed and importlib.util.find_spec(needed) is None:
        extra = "endpoint" if engine == "endpoint" else "vllm"
        raise UsageError(f"--engine {engine} needs the `{needed}` package: pip install 'oger-trl[{extra}]'.")
    if engine != "endpoint":
        check_model_source(args.model, "--model")
    engine_args = dict(_engine_arg(spec) for spec in args.engine_arg)
    taken = sorted(set(engine_args) & {"model", "dtype", "seed", "tensor_parallel_size", "max_model_len"})
    if taken:
        raise UsageError(f"--engine-arg {taken}: set these with their own options (--model, --dtype, ...).")
    if engine == "endpoint" and args.api_key_env != "OPENAI_API_KEY" and args.api_key_env not in os.environ:
        raise UsageError(f"--api-key-env {args.api_key_env}: no such environment variable is set.")
    engine_args["tensor_parallel_size"] = args.tensor_parallel_size
    if args.max_model_len:
        engine_args["max_model_len"] = args.max_model_len
    endpoint = (
        Endpoint(args.base_url, args.model, args.api_key_env, args.concurrency, args.retries, args.request_timeout)
        if engine == "endpoint"
        else None
    )
    sampling = Sampling(
        args.n,
        args.temperature,
        args.top_p,
        args.max_new_tokens,
        args.seed,
        args.instruction or None,
        args.system_prompt,
    )
    return GenerateJob(
        source=args.problems,
        output=args.output,
        model=args.model,
        sampling=sampling,
        engine=engine,
        teacher=args.teacher,
        columns=Columns(args.problem_column, args.answer_column, args.solution_column),
        split=args.split,
        limit=args.limit,
        shard=parse_shard(args.shard),
        batch_size=args.batch_size or (256 if engine == "vllm" else 8),
        dtype=args.dtype,
        engine_args=engine_args if engine == "vllm" else {},
        endpoint=endpoint,
    )


def _local_engine() -> str:
    import importlib.util

    import torch

    return "vllm" if importlib.util.find_spec("vllm") and torch.cuda.is_available() else "transformers"


def _engine_arg(spec: str) -> tuple[str, object]:
    import yaml

    key, sep, value = spec.partition("=")
    if not sep or not key:
        raise UsageError(f"--engine-arg expects KEY=VALUE, got {spec!r}.")
    return key, yaml.safe_load(value)


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
        encoded = encoder.num_texts_encoded
        path = store.add_dataset(dataset, training_args.teacher_completions_column, show_progress=True)
        if encoder.num_texts_encoded == encoded:
            print(f"{split}: teacher embeddings already cached at {path}: nothing to encode")
        else:
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

    _check_counts(args, ("n", "batch_size", "max_new_tokens"))
    _check_counts(args, ("limit",), optional=True)
    _check_sampling(args)
    return EvalSettings(
        n=args.n,
        temperature=args.temperature,
        top_p=args.top_p,
        max_new_tokens=args.max_new_tokens,
        think_gate=args.think_gate,
        batch_size=args.batch_size,
        limit=args.limit,
    )


def _check_counts(args: argparse.Namespace, names: tuple[str, ...], optional: bool = False) -> None:
    """Counts are at least 1; an `optional` one may also be left out (None: the command's own choice)."""
    for name in names:
        value = getattr(args, name)
        if not (optional and value is None) and value < 1:
            left_out = " (or left out)" if optional else ""
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1{left_out}, got {value}.")


def _check_sampling(args: argparse.Namespace) -> None:
    if args.temperature < 0 or not 0 < args.top_p <= 1:
        raise UsageError(f"--temperature must be >= 0 and --top-p in (0, 1], got {args.temperature} and {args.top_p}.")


COMMANDS = {
    "train": train,
    "prepare": prepare,
    "generate": generate,
    "embed": embed,
    "evaluate": evaluate,
    "demo": demo,
}

if __name__ == "__main__":
    main()
