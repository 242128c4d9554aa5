"""A tiny random Qwen2 policy with a byte-level BPE tokenizer trained in-process, for offline smoke runs, benchmarks and
tests: no download, built in about a second.

The tokenizer learns its merges from arithmetic problems and their worked solutions (`arithmetic_problems`,
`teacher_solutions`), Qwen2's pre-tokenisation and chat markers; the model has two layers of width 64 (0.1 M
parameters) and samples by default.
"""

import random

import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
QWEN2_PRETOKENIZE_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
WORDS = [
    "we",
    "add",
    "the",
    "numbers",
    "so",
    "answer",
    "is",
    "total",
    "sum",
    "first",
    "then",
    "apples",
    "books",
    "coins",
    "each",
    "has",
    "more",
]


def arithmetic_problems(n: int, seed: int = 0) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    return [(rng.randint(1, 40), rng.randint(1, 40)) for _ in range(n)]


def teacher_solutions(a: int, b: int) -> tuple[list[str], list[str]]:
    """Three teachers: two correct in different styles, one wrong (it must score 0)."""
    return (
        [
            f"We add {a} and {b}. The sum is {a + b}, so the answer is \\boxed{{{a + b}}}.",
            f"First {a}, then {b} more: {a} + {b} = {a + b}. \\boxed{{{a + b}}}",
            f"The total is {a} times {b}, which is \\boxed{{{a * b + 1}}}.",
        ],
        ["alice", "bob", "carol"],
    )


def corpus() -> list[str]:
    rng = random.Random(1)
    lines = []
    for a, b in arithmetic_problems(300, seed=2):
        texts, _ = teacher_solutions(a, b)
        lines += [f"What is {a} + {b}?", *texts, " ".join(rng.choices(WORDS, k=12))]
    return lines


def train_byte_level_bpe(texts: list[str], vocab_size: int, special_tokens: list[str] = ()) -> Tokenizer:
    """A byte-level BPE with Qwen2's pre-tokenisation, trained on `texts`."""
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def build_tokenizer(vocab_size: int = 512) -> PreTrainedTokenizerFast:
    tok = train_byte_level_bpe(corpus(), vocab_size, SPECIALS)
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", padding_side="left"
    )
    hf.chat_template = CHAT_TEMPLATE
    return hf


VLLM_CPU_HIDDEN = 128  # the narrowest width vLLM's CPU attention serves: 4 heads of its minimum head size, 32


def build_model(tokenizer, seed: int = 0, hidden: int = 64) -> Qwen2ForCausalLM:
    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, do_sample=True
    )
    return model
