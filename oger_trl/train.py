"""`oger-trl train`: run an OGER recipe (TRL-style YAML), like `trl grpo` does for GRPO.

    accelerate launch --config_file recipes/accelerate_configs/zero3.yaml -m oger_trl.cli train \
        --config recipes/Qwen2.5-Math-1.5B/oger/config_paper.yaml [--any_field value ...]

The YAML mixes the fields of `OGERScriptArguments`, `OGERConfig`, TRL's `ModelConfig` and `DatasetMixtureConfig`; its
`env:` block is exported before anything runs, and command-line flags override the file.
"""

import difflib
import logging
import re
import sys
import textwrap
from dataclasses import MISSING, dataclass, field

import transformers
from datasets import Dataset, DatasetDict, load_dataset
from packaging.version import Version
from safetensors import SafetensorError
from trl import (
    DatasetMixtureConfig,
    ModelConfig,
    ScriptArguments,
    TrlParser,
    get_dataset,
    get_peft_config,
    get_quantization_config,
)

from .checkpoints import resume_target
from .config import OGERConfig, declared_fields
from .data.loading import load_table
from .errors import UsageError
from .evaluation.benchmarks import parse_benchmark_spec
from .evaluation.callback import BenchmarkEvalCallback
from .evaluation.overlap import write_training_questions
from .hub import require_hub
from .paths import check_model_source, check_writable_folder, is_local_path
from .rewards import REWARD_FUNCS, load_reward_func
from .smollm2 import resolve_model_name
from .teacher_cache import CACHE_REMEDY
from .trainer import OGERTrainer

logger = logging.getLogger(__name__)


@dataclass
class OGERScriptArguments(ScriptArguments):
    """Script arguments of `oger-trl train`: TRL's `ScriptArguments` plus the reward functions and an optional small
    benchmark evaluation during training.

    Args:
        eval_benchmarks (`list[str]`, *optional*):
            Benchmarks to sample during training (see `oger-trl evaluate`); logs `eval/<benchmark>/avg@k`.
        eval_benchmarks_steps (`int`, *optional*, defaults to `50`):
            Optimizer steps between two benchmark evaluations.
        eval_benchmarks_limit (`int`, *optional*, defaults to `64`):
            Problems per benchmark in each evaluation (the first ones, so every evaluation sees the same problems).
        eval_benchmarks_n (`int`, *optional*, defaults to `1`):
            Samples per problem; the logged avg@k averages them.
        eval_benchmarks_max_new_tokens (`int`, *optional*, defaults to `1024`):
            Token budget of each answer in the benchmark evaluations.
        reward_funcs (`list[str]`, *optional*, defaults to `["accuracy_reward"]`):
            The verifiable rewards R_m: registered names (`accuracy_reward`, `reasoning_accuracy_reward`,
            `think_format_reward`, `get_soft_overlong_punishment`) or dotted import paths (`my_lib.rewards.f`).
    """

    eval_benchmarks: list[str] | None = field(
        default=None,
        metadata={
            "help": "Benchmarks (names of `oger-trl evaluate`, or NAME=local_file) to sample during training; "
            "`eval/<benchmark>/avg@k` joins the training metrics every `eval_benchmarks_steps` steps."
        },
    )
    eval_benchmarks_steps: int = field(default=50, metadata={"help": "Steps between two benchmark evaluations."})
    eval_benchmarks_limit: int = field(default=64, metadata={"help": "Problems per benchmark in each evaluation."})
    eval_benchmarks_n: int = field(default=1, metadata={"help": "Samples per problem (avg@k) in each evaluation."})
    eval_benchmarks_max_new_tokens: int = field(
        default=1024, metadata={"help": "Token budget of each answer in the benchmark evaluations."}
    )
    reward_funcs: list[str] = field(
        default_factory=lambda: ["accuracy_reward"],
        metadata={
            "help": f"Verifiable reward functions: registered names ({', '.join(sorted(REWARD_FUNCS))}) or dotted "
            "import paths (e.g. 'my_lib.rewards.f'). Teacher and online completions are scored alike."
        },
    )

    def __post_init__(self):
        if hasattr(super(), "__post_init__"):  # ScriptArguments has none in TRL 1.16
            super().__post_init__()
        for name in ("reward_funcs", "eval_benchmarks"):  # `reward_funcs: accuracy_reward` in YAML: one name
            if isinstance(getattr(self, name), str):
                setattr(self, name, [getattr(self, name)])


class RecipeParser(TrlParser):
    """TRL's parser, with the mistakes a recipe can hold reported in one line that names the file and the field: a
    value of the wrong type (argparse would print the whole usage first), and an unknown field, with the closest
    known one."""

    config_path: str | None = None

    def parse_args_and_config(self, args=None, **kwargs):
        args = list(sys.argv[1:] if args is None else args)
        self.config_path = _config_path(args)
        *parsed, from_config, from_command_line = super().parse_args_and_config(
            args=args, return_remaining_strings=True, separate_remaining_strings=True
        )
        for source, strings in ((self.config_path, from_config), ("the command line", from_command_line)):
            unknown = [s[2:].split("=", 1)[0] for s in strings if s.startswith("--")]
            if unknown:
                raise UsageError(f"{source}: {self._unknown_fields(unknown)}")
        return tuple(parsed)

    def _unknown_fields(self, names: list[str]) -> str:
        known = [action.dest for action in self._actions]
        parts = []
        for name in names:
            close = difflib.get_close_matches(name, known, n=1)
            parts.append(f"unknown field `{name}`" + (f" (did you mean `{close[0]}`?)" if close else ""))
        return "; ".join(parts) + ". `oger-trl train --help-all` lists every field."

    def error(self, message: str):
        """argparse's error, as one line: `argument --num_generations: invalid int value: 'many'`."""
        match = re.fullmatch(r"argument --(\w+)(?:/[^:]*)?: invalid (\w+) value: (.*)", message)
        source = f"{self.config_path}" if self.config_path else "the command line"
        if match:
            field_name, expected, value = match.groups()
            raise UsageError(f"{source}: `{field_name}` expects a value of type {expected}, got {value}.")
        raise UsageError(f"{source}: {message}")


def make_parser(prog: str | None = "oger-trl train") -> TrlParser:
    return RecipeParser((OGERScriptArguments, OGERConfig, ModelConfig, DatasetMixtureConfig), prog=prog)


def load_datasets(script_args: OGERScriptArguments, dataset_args: DatasetMixtureConfig) -> DatasetDict:
    if dataset_args.datasets:
        if script_args.dataset_name:
            logger.warning("Both `datasets` and `dataset_name` are set: using `datasets`.")
        return get_dataset(dataset_args)
    if script_args.dataset_name:
        name = script_args.dataset_name
        if is_local_path(name):
            return DatasetDict({script_args.dataset_train_split: load_table(name)})
        return load_dataset(name, name=script_args.dataset_config, streaming=script_args.dataset_streaming)
    raise UsageError("Set `dataset_name` (Hub id or local file) or a `datasets:` mixture in the recipe.")


def build_trainer(
    script_args: OGERScriptArguments,
    training_args: OGERConfig,
    model_args: ModelConfig,
    dataset_args: DatasetMixtureConfig,
) -> OGERTrainer:
    model_init_kwargs = dict(
        revision=model_args.model_revision,
        trust_remote_code=training_args.trust_remote_code,
        attn_implementation=model_args.attn_implementation,
        dtype=model_args.dtype,
    )
    training_args.model_init_kwargs = {**model_init_kwargs, **(training_args.model_init_kwargs or {})}
    check_model_source(model_args.model_name_or_path, "model_name_or_path")
    datasets = load_datasets(script_args, dataset_args)
    evaluating = training_args.eval_strategy != "no"
    return OGERTrainer(
        model=resolve_model_name(model_args.model_name_or_path),
        reward_funcs=[load_reward_func(name) for name in script_args.reward_funcs],
        args=training_args,
        train_dataset=datasets[script_args.dataset_train_split],
        eval_dataset=datasets[script_args.dataset_test_split] if evaluating else None,
        quantization_config=get_quantization_config(model_args),
        peft_config=get_peft_config(model_args),
    )


def check_paths(training_args: OGERConfig) -> None:
    """The folders a run writes and the checkpoint it resumes, checked before any model loads."""
    check_writable_folder(training_args.output_dir, "output_dir")
    if training_args.teacher_cache_dir:
        check_writable_folder(training_args.teacher_cache_dir, "teacher_cache_dir", CACHE_REMEDY)
    resume_target(training_args.resume_from_checkpoint, training_args.output_dir)


def short_help(prog: str = "oger-trl train", description: str = __doc__.split("\n\n")[0]) -> str:
    """`oger-trl train --help`: what the command does, `--config`, and the fields OGER adds (TRL's are in --help-all)."""
    lines = [
        f"usage: {prog} --config RECIPE.yaml [--FIELD VALUE ...]",
        "",
        description,
        "",
        "  --config RECIPE.yaml   a TRL-style YAML recipe (see recipes/); flags given after it override its fields",
        "  --help-all             every field: TRL's GRPOConfig, ModelConfig, dataset mixtures and transformers'",
        "",
        "fields OGER adds (OGERConfig and OGERScriptArguments):",
    ]
    for cls in (OGERConfig, OGERScriptArguments):
        for f in declared_fields(cls):
            if not f.metadata.get("help"):
                continue
            default = f.default if f.default is not MISSING else f.default_factory()
            lines.append(f"  --{f.name} (default: {default})")
            lines += textwrap.wrap(f.metadata["help"], 112, initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> OGERTrainer:
    args = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in args):
        print(short_help())
        return None
    parser = make_parser()
    args = [("--help" if a == "--help-all" else a) for a in args]
    try:
        script_args, training_args, model_args, dataset_args = parser.parse_args_and_config(args=args)
    except ValueError as err:  # the configs' own validation (TRL's and OGER's): a recipe to fix, not a crash
        raise UsageError(str(err)) from err
    if training_args.push_to_hub:  # before any download or compute, not after hours of training
        require_hub("push the model (push_to_hub=True)", training_args.hub_token)
    if model_args.model_name_or_path is None:  # no recipe, or one without a policy: nothing to load or write yet
        raise UsageError(
            "no policy to train: give --config RECIPE.yaml (with model_name_or_path) or --model_name_or_path"
        )
    for spec in script_args.eval_benchmarks or []:  # names before any weights; the files load with the callback
        parse_benchmark_spec(spec, "eval_benchmarks")
    check_paths(training_args)
    try:
        trainer = build_trainer(script_args, training_args, model_args, dataset_args)
    except UsageError:
        raise
    except ValueError as err:  # TRL's checks of the trainer's inputs (datasets, reward classes, ...)
        raise UsageError(str(err)) from err
    except SafetensorError as err:  # the one refusal that needs the weights: it is found by reading them
        raise UsageError(
            f"cannot read the weights of {model_args.model_name_or_path!r} or of the encoder ({err}): a truncated or "
            "corrupt .safetensors file; save or download the model again."
        ) from err
    trainer.recipe = _config_path(argv)
    if script_args.eval_benchmarks:
        trainer.add_callback(
            BenchmarkEvalCallback(
                trainer,
                script_args.eval_benchmarks,
                every_steps=script_args.eval_benchmarks_steps,
                n=script_args.eval_benchmarks_n,
                limit=script_args.eval_benchmarks_limit,
                max_new_tokens=script_args.eval_benchmarks_max_new_tokens,
            )
        )
    trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    trainer.save_model(training_args.output_dir)
    if trainer.is_world_process_zero() and isinstance(trainer.train_dataset, Dataset):
        write_training_questions(trainer.train_dataset["prompt"], training_args.output_dir)  # for `evaluate`
    trainer.create_model_card(dataset_name=script_args.dataset_name)
    trainer.accelerator.print(f"Model saved to {training_args.output_dir}.")
    if training_args.push_to_hub:
        trainer.push_to_hub(dataset_name=script_args.dataset_name)
        trainer.accelerator.print(f"Model pushed to https://huggingface.co/{trainer.hub_model_id}.")
    if Version(transformers.__version__) >= Version("5.18.0"):
        trainer.end()
    return trainer


def _config_path(argv: list[str] | None) -> str | None:
    args = sys.argv[1:] if argv is None else argv
    for i, arg in enumerate(args):
        if arg == "--config" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
    return None
