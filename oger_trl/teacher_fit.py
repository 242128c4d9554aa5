"""Whether the teachers fit `max_completion_length`, measured with the tokenizer alone: the check runs before the
policy's weights load, so a dataset whose teachers are all too long is refused in seconds, not after minutes of
loading a 7B model."""

import logging
from collections.abc import Callable

from datasets import Dataset
from transformers import AutoTokenizer, GenerationConfig
from trl.trainer.utils import get_config_model_id

from .config import OGERConfig
from .errors import UsageError
from .exploration import prompts_with_fitting_teachers

logger = logging.getLogger(__name__)

FIT_SAMPLE = 1000  # prompts whose teacher lengths are measured at start-up (all of them in smaller datasets)


def offline_teachers(row: dict, args: OGERConfig) -> tuple[list[str], list[str]]:
    """A row's teacher completions and their names, less those `args.teachers` leaves out."""
    texts = row.get(args.teacher_completions_column) or []
    names = row.get(args.teacher_sources_column) or [str(j) for j in range(len(texts))]
    kept = [(t, n) for t, n in zip(texts, names, strict=True) if not args.teachers or n in args.teachers]
    return [t for t, _ in kept], [n for _, n in kept]


def eos_token_ids(generation_eos: int | list[int] | None, tokenizer_eos: int | None) -> list[int]:
    """GRPOTrainer's end-of-sequence ids: the generation config's, with the tokenizer's first when it is missing."""
    ids = (
        [] if generation_eos is None else [generation_eos] if isinstance(generation_eos, int) else list(generation_eos)
    )
    return ids if tokenizer_eos in ids else [tokenizer_eos, *ids]


def ending_with_eos(ids: list[int], eos: list[int]) -> list[int]:
    """Teacher token ids as spliced: ending with EOS like a terminated completion (the first EOS id appended unless
    the text already ends with one)."""
    return ids if ids and ids[-1] in eos else [*ids, eos[0]]


def spliced_length_counter(model, processing_class, args: OGERConfig) -> Callable[[list[str]], list[int]]:
    """Token counts of teacher texts as they are spliced (EOS included), from the policy's tokenizer and generation
    config: no weights are read when `model` is a name or folder."""
    if isinstance(model, str):
        kwargs = {k: v for k, v in (args.model_init_kwargs or {}).items() if k in ("revision", "trust_remote_code")}
        tokenizer = processing_class or AutoTokenizer.from_pretrained(model, **kwargs)
        try:
            generation_eos = GenerationConfig.from_pretrained(model, **kwargs).eos_token_id
        except OSError:  # no generation_config.json: transformers' default has no EOS of its own
            generation_eos = None
    else:
        tokenizer = processing_class or AutoTokenizer.from_pretrained(get_config_model_id(model.config))
        generation_eos = model.generation_config.eos_token_id
    eos = eos_token_ids(generation_eos, tokenizer.eos_token_id)

    def lengths(texts: list[str]) -> list[int]:
        return [len(ending_with_eos(ids, eos)) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]

    return lengths


def check_teachers_fit(
    dataset: Dataset, args: OGERConfig, lengths: Callable[[list[str]], list[int]]
) -> tuple[str, bool]:
    """How many prompts can splice (measured on a fixed sample of large datasets); refuses when none can. Returns
    the message to show once the trainer is built, and whether every prompt with teachers can splice."""
    sample = dataset.select(range(0, len(dataset), max(1, len(dataset) // FIT_SAMPLE)))
    teachers = [offline_teachers(row, args)[0] for row in sample]
    budget = args.max_completion_length
    fits = prompts_with_fitting_teachers(teachers, lengths, budget)
    with_teachers = sum(bool(texts) for texts in teachers)
    scope = f"{len(sample)} prompts" if len(sample) == len(dataset) else f"a sample of {len(sample)} prompts"
    message = (
        f"Of {scope}, {with_teachers} have teachers and {fits} have a teacher completion of at most "
        f"max_completion_length={budget} tokens (EOS included): only those can be spliced."
    )
    if with_teachers and not fits:
        raise UsageError(
            f"{message} No teacher completion fits, so splicing would never happen. Raise `max_completion_length`, "
            "drop long teacher completions (`oger-trl prepare --max-tokens`), or set `num_offline_per_group=0`."
        )
    return message, fits == with_teachers
