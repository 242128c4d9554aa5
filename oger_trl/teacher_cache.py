"""Teacher embeddings: computed once per (encoder, settings, dataset), cached on disk, looked up by text.

Teacher completions never change during training, so their embeddings are computed once and stored as a safetensors
file whose name is a fingerprint of the encoder (weights and settings) and of the set of teacher texts. Lookups are by
content (a 128-bit digest of the text), so a shuffled, filtered or re-ordered dataset, and eval sets, reuse the cache.
Files are written atomically, carry a checksum of their payload, and are memory-mapped when loaded; a stale or corrupt
file is rebuilt, never silently used. No pickle is involved.
"""

import hashlib
import itertools
import json
import logging
import os
import struct
from collections import OrderedDict
from collections.abc import Iterable, Iterator

import numpy as np
import torch
from safetensors.numpy import save_file
from tqdm.auto import tqdm

from .encoder import SentenceEncoder
from .paths import check_writable_folder, new_file_mode
from .run_folder import replace_atomically

logger = logging.getLogger(__name__)

CACHE_FORMAT = "oger-trl/teacher-embeddings/1"
_DIGEST_BYTES = 16
_READ_CHUNK = 4096  # teacher texts read from the dataset at once while building a cache
_ENCODE_CHUNK = 256  # texts per encoder call while building a cache: the progress bar moves at this pace
# How to mend an unwritable cache folder: the default comes from the environment, so the remedy names both.
CACHE_REMEDY = " Point `teacher_cache_dir` (or the OGER_TRL_CACHE environment variable) at a writable folder."
_MEMO_SIZE = 65536  # embeddings of uncached teacher texts kept in memory (e.g. from an IterableDataset)


def default_cache_dir() -> str:
    return os.environ.get("OGER_TRL_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "oger_trl", "teacher_embeddings"
    )


def text_digests(texts: Iterable[str]) -> np.ndarray:
    """`(n, 2)` uint64 keys: the 128-bit blake2b digest of each text, big-endian so that rows sort like the bytes."""
    raw = b"".join(hashlib.blake2b(t.encode("utf-8"), digest_size=_DIGEST_BYTES).digest() for t in texts)
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, 2)


def iter_teacher_texts(dataset, column: str, batch_size: int = 1024) -> Iterator[str]:
    """All teacher texts of a map-style `datasets.Dataset`, reading only the teacher column."""
    for batch in dataset.select_columns([column]).iter(batch_size=batch_size):
        for teachers in batch[column]:
            yield from teachers or ()


def unique_sorted(digests: np.ndarray) -> np.ndarray:
    return np.unique(digests, axis=0) if len(digests) else digests.reshape(0, 2)


class CorruptCacheError(Exception):
    """A cache file that cannot be trusted: unreadable, truncated, for another encoder or data, or checksum mismatch."""


class EmbeddingTable:
    """Embeddings of a set of texts, rows ordered by digest, searchable by digest."""

    def __init__(self, digests: np.ndarray, embeddings: np.ndarray):
        self.digests = digests
        self.embeddings = embeddings

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Row of each key, or -1 where the table does not hold it."""
        if len(self.digests) == 0:
            return np.full(len(keys), -1)
        pos = np.searchsorted(self.digests[:, 0], keys[:, 0]).clip(max=len(self.digests) - 1)
        hit = (self.digests[pos] == keys).all(axis=1)
        return np.where(hit, pos, -1)


def cache_key(encoder_fingerprint: str, digests: np.ndarray) -> str:
    h = hashlib.sha256(encoder_fingerprint.encode())
    h.update(np.ascontiguousarray(digests).tobytes())
    return h.hexdigest()


def cache_path(cache_dir: str, key: str) -> str:
    return os.path.join(cache_dir, f"teachers-{key[:24]}.safetensors")


def _payload_checksum(digests: np.ndarray, embeddings: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=32)
    h.update(np.ascontiguousarray(digests).tobytes())
    for start in range(0, len(embeddings), 65536):  # in slices: a memory-mapped table is never read whole at once
        h.update(np.ascontiguousarray(embeddings[start : start + 65536]).tobytes())
    return h.hexdigest()


def write_table(path: str, key: str, encoder: SentenceEncoder, table: EmbeddingTable) -> None:
    """Write a cache file atomically (`replace_atomically`), fsynced before the rename."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    metadata = {
        "format": CACHE_FORMAT,
        "cache_key": key,
        "encoder": encoder.name_or_path,
        "encoder_fingerprint": encoder.fingerprint,
        "count": str(len(table.digests)),
        "dim": str(encoder.dim),
        "checksum": _payload_checksum(table.digests, table.embeddings),
    }

    def write(tmp: str) -> None:
        save_file({"digests": table.digests, "embeddings": table.embeddings}, tmp, metadata=metadata)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, new_file_mode())  # safetensors writes 0600 files: a shared cache follows the umask

    replace_atomically(path, write)


def load_table(path: str, key: str, dim: int) -> EmbeddingTable:
    """Memory-map a cache file after checking its structure, its key and its checksum."""
    try:
        header_len, header = _read_header(path)
    except (OSError, ValueError, struct.error) as err:
        raise CorruptCacheError(f"unreadable header ({err})") from err
    metadata = header.pop("__metadata__", {})
    if metadata.get("format") != CACHE_FORMAT or metadata.get("cache_key") != key:
        raise CorruptCacheError("written for another encoder, setting or dataset")
    arrays = {}
    data_start = 8 + header_len
    for name, dtype, width in (("digests", np.uint64, 2), ("embeddings", np.float32, dim)):
        info = header.get(name)
        expected_dtype = "U64" if dtype is np.uint64 else "F32"
        if info is None or info["dtype"] != expected_dtype or len(info["shape"]) != 2 or info["shape"][1] != width:
            raise CorruptCacheError(f"tensor {name!r} missing or of the wrong type/shape")
        start, end = info["data_offsets"]
        rows = info["shape"][0]
        if end - start != rows * width * np.dtype(dtype).itemsize or data_start + end > os.path.getsize(path):
            raise CorruptCacheError(f"tensor {name!r} truncated")
        arrays[name] = np.memmap(path, dtype=dtype, mode="r", offset=data_start + start, shape=(rows, width))
    if len(arrays["digests"]) != len(arrays["embeddings"]) or str(len(arrays["digests"])) != metadata.get("count"):
        raise CorruptCacheError("row counts disagree")
    if _payload_checksum(arrays["digests"], arrays["embeddings"]) != metadata.get("checksum"):
        raise CorruptCacheError("checksum mismatch")
    return EmbeddingTable(arrays["digests"], arrays["embeddings"])


def _read_header(path: str) -> tuple[int, dict]:
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        if header_len > os.path.getsize(path):
            raise ValueError("header length beyond end of file")
        return header_len, json.loads(f.read(header_len))


def build_table(
    encoder: SentenceEncoder, texts: Iterable[str], digests: np.ndarray, show_progress: bool = False
) -> EmbeddingTable:
    """Encode every text once, storing row i for `digests[i]` (unique and sorted)."""
    table = EmbeddingTable(digests, np.zeros((len(digests), encoder.dim), dtype=np.float32))
    done = np.zeros(len(digests), dtype=bool)
    progress = tqdm(total=len(digests), desc="Encoding teacher completions", unit="text", disable=not show_progress)
    texts = iter(texts)
    while batch := list(itertools.islice(texts, _READ_CHUNK)):
        rows = table.find(text_digests(batch))
        if (rows < 0).any():
            raise RuntimeError("the teacher texts changed while the cache was being built")
        todo = {}  # row -> text, first occurrence of each text not encoded yet
        for row, text in zip(rows.tolist(), batch, strict=True):
            if not done[row]:
                todo.setdefault(row, text)
        todo_rows, todo_texts = np.fromiter(todo, dtype=np.int64, count=len(todo)), list(todo.values())
        for start in range(0, len(todo_rows), _ENCODE_CHUNK):
            rows_chunk = todo_rows[start : start + _ENCODE_CHUNK]
            table.embeddings[rows_chunk] = encoder.encode(todo_texts[start : start + _ENCODE_CHUNK]).numpy()
            done[rows_chunk] = True
            progress.update(len(rows_chunk))
    progress.close()
    if not done.all():
        raise RuntimeError("the teacher texts changed while the cache was being built")
    return table


class TeacherEmbeddings:
    """Teacher embeddings by text: cached tables first, then a bounded in-memory memo, encoding what neither holds."""

    def __init__(self, encoder: SentenceEncoder, cache_dir: str | None = None):
        self.encoder = encoder
        self.cache_dir = cache_dir or default_cache_dir()
        self.tables: list[EmbeddingTable] = []
        self._memo: OrderedDict[bytes, torch.Tensor] = OrderedDict()

    def add_dataset(self, dataset, column: str, show_progress: bool = False) -> str:
        """Load the cache of `dataset`'s teacher texts, building (and writing) it first when missing, stale or corrupt.
        Returns the path of the cache file."""
        digests = unique_sorted(text_digests(iter_teacher_texts(dataset, column)))
        key = cache_key(self.encoder.fingerprint, digests)
        path = cache_path(self.cache_dir, key)
        if os.path.exists(path):
            try:
                table = load_table(path, key, self.encoder.dim)
                if np.array_equal(table.digests, digests):
                    self.tables.append(table)
                    return path
                reason = "it holds other texts"
            except CorruptCacheError as err:
                reason = str(err)
            logger.warning(f"Teacher-embedding cache {path} cannot be used ({reason}); rebuilding it.")
        check_writable_folder(self.cache_dir, "teacher_cache_dir", CACHE_REMEDY)
        if show_progress:
            print(f"Encoding {len(digests)} teacher completions with {self.encoder.name_or_path} (cached at {path}).")
        table = build_table(self.encoder, iter_teacher_texts(dataset, column), digests, show_progress)
        write_table(path, key, self.encoder, table)
        self.tables.append(load_table(path, key, self.encoder.dim))
        return path

    def lookup(self, texts: list[str]) -> torch.Tensor:
        """`(len(texts), dim)` embeddings of `texts`, in order."""
        out = torch.zeros(len(texts), self.encoder.dim)
        keys = text_digests(texts)
        missing = np.ones(len(texts), dtype=bool)
        for table in self.tables:
            rows = table.find(keys)
            hit = missing & (rows >= 0)
            if hit.any():
                out[torch.from_numpy(hit)] = torch.from_numpy(np.asarray(table.embeddings[rows[hit]]))
                missing &= ~hit
        for i in np.flatnonzero(missing):
            memo_key = keys[i].tobytes()
            if memo_key in self._memo:
                self._memo.move_to_end(memo_key)
                out[i] = self._memo[memo_key]
                missing[i] = False
        to_encode = np.flatnonzero(missing)
        if len(to_encode):
            encoded = self.encoder.encode([texts[i] for i in to_encode])
            for i, embedding in zip(to_encode, encoded, strict=True):
                out[i] = embedding
                self._memo[keys[i].tobytes()] = embedding
            while len(self._memo) > _MEMO_SIZE:
                self._memo.popitem(last=False)
        return out
