"""Offline stand-ins for the Hub fixtures of TRL's GRPO tests: the `trl-internal-testing/zen` dataset and the
`trl-internal-testing/tiny-*` models, written once into a local Hugging Face cache.

- Datasets: TRL's own `scripts/generate_zen_dataset.py` (vendored under `trl_scripts/`) runs with `push_to_hub`
  redirected to parquet files, so the rows are TRL's, not a copy.
- Tokenizer: a byte-level BPE trained in-process with `tokenizers` on the zen texts, with Qwen2.5/Qwen3's special
  tokens at Qwen's ids (`<|endoftext|>` 151643, `<|im_start|>` 151644, `<|im_end|>` 151645, ... `</think>` 151668).
  The ids below them that the small BPE does not use hold filler word pieces, so that the vocabulary is dense: every
  id a random policy samples decodes to text, as with the real tokenizers.
- Models: TRL's own tiny-model scripts (`scripts/generate_tiny_models/`, vendored) run with the Hub calls replaced:
  the tokenizer and generation config are the stand-ins above, `push_to_hub` writes a snapshot into the local cache
  (`models--trl-internal-testing--<name>/snapshots/<hash>` plus `refs/main`). Vision-language models are not built.

Run `python tests/conformance/fixtures.py [--dir DIR] [--force]`; `run.py` calls `ensure_fixtures` itself.
"""

import argparse
import contextlib
import hashlib
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRL_SCRIPTS = HERE / "trl_scripts"
BUILD_VERSION = "1"  # bump when the stand-ins change: fixtures of another version are rebuilt
ORG = "trl-internal-testing"


def default_fixture_dir() -> Path:
    return Path(
        os.environ.get("OGER_CONFORMANCE_FIXTURES") or Path.home() / ".cache" / "oger-trl-conformance"
    ).expanduser()


def hub_cache(fixture_dir: Path) -> Path:
    return fixture_dir / "hub"


def zen_dir(fixture_dir: Path) -> Path:
    return fixture_dir / "datasets" / "zen"


def repo_folder(fixture_dir: Path, repo_id: str) -> Path:
    return hub_cache(fixture_dir) / ("models--" + repo_id.replace("/", "--"))


# Qwen2.5's added tokens (151643-151664) and Qwen3's four more (151665-151668): (content, special).
QWEN_ADDED_TOKENS = [
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
    ("<tool_response>", False),
    ("</tool_response>", False),
    ("<think>", False),
    ("</think>", False),
]
FIRST_ADDED_ID = 151643
VOCAB_SIZE = FIRST_ADDED_ID + len(QWEN_ADDED_TOKENS)  # 151669, Qwen3's len(tokenizer)
EOS_TOKEN, PAD_TOKEN = "<|im_end|>", "<|endoftext|>"
TRAINED_VOCAB = 2048

# Teacher completions of mode C (short enough for max_completion_length=8 of the stand-in tokenizer, EOS included).
TEACHERS = (["Yes."], ["alice"]), (["Yes.", "No idea."], ["alice", "bob"])

# Tiny-model scripts of TRL that are run (module under scripts.generate_tiny_models), and the chat template family.
MODEL_SCRIPTS = {
    "for_causal_lm.qwen2_for_causal_lm_2_5": "qwen2_5",
    "for_causal_lm.qwen3_for_causal_lm": "qwen3",
    "for_causal_lm.qwen3_moe_for_causal_lm": "qwen3",
    "for_causal_lm.llama_for_causal_lm_3_2": "qwen2_5",
    "for_causal_lm.mistral_for_causal_lm_0_2": "qwen2_5",
    "for_causal_lm.gemma2_for_causal_lm": "qwen2_5",
    "for_causal_lm.cohere2_for_causal_lm": "qwen2_5",
    "for_causal_lm.gpt_oss_for_causal_lm": "qwen2_5",
    "for_causal_lm.glm4_moe_for_causal_lm": "qwen2_5",
    "for_causal_lm.nemotron_3_nano_for_causal_lm": "qwen2_5",
    "for_causal_lm.remote_for_causal_lm": "qwen2_5",
    "for_sequence_classification.qwen2_for_sequence_classification_2_5": "qwen2_5",
    "for_sequence_classification.qwen3_for_sequence_classification": "qwen3",
    "for_sequence_classification.llama_for_sequence_classification_3_2": "qwen2_5",
}
# `AutoConfig.from_pretrained(<reference model>)` of the reward-model scripts: the model type of the reference.
REFERENCE_MODEL_TYPES = {
    "Qwen/Qwen2.5-32B-Instruct": "qwen2",
    "Qwen/Qwen3-4B": "qwen3",
    "meta-llama/Llama-3.2-1B-Instruct": "llama",
}
# Used by the GRPO tests but not built here (vision-language models and image datasets).
NOT_BUILT = [
    "trl-internal-testing/tiny-Gemma3ForConditionalGeneration",
    "trl-internal-testing/tiny-Gemma4ForConditionalGeneration",
    "trl-internal-testing/tiny-LlavaForConditionalGeneration",
    "trl-internal-testing/tiny-LlavaNextForConditionalGeneration",
    "trl-internal-testing/tiny-Qwen2VLForConditionalGeneration",
    "trl-internal-testing/tiny-Qwen2_5_VLForConditionalGeneration",
    "trl-internal-testing/tiny-Qwen3_5ForConditionalGeneration-NoThink",
    "trl-internal-testing/tiny-Qwen3_5MoeForConditionalGeneration-3.6",
    "trl-internal-testing/tiny-SmolVLMForConditionalGeneration",
    "trl-internal-testing/zen-image",
    "trl-internal-testing/zen-multi-image",
]


def manifest_path(fixture_dir: Path) -> Path:
    return fixture_dir / "manifest.json"


def read_manifest(fixture_dir: Path) -> dict | None:
    try:
        manifest = json.loads(manifest_path(fixture_dir).read_text())
    except (OSError, ValueError):
        return None
    return manifest if manifest.get("version") == BUILD_VERSION else None


def ensure_fixtures(fixture_dir: Path | None = None, force: bool = False, log=print) -> dict:
    """The manifest of the fixtures in `fixture_dir`, built first when missing, outdated or `force`d."""
    fixture_dir = Path(fixture_dir or default_fixture_dir())
    manifest = None if force else read_manifest(fixture_dir)
    if manifest is None:
        manifest = build_fixtures(fixture_dir, log=log)
    return manifest


def build_fixtures(fixture_dir: Path, log=print) -> dict:
    # Offline before transformers/datasets are imported: nothing here may reach the Hub.
    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    start = time.time()
    fixture_dir.mkdir(parents=True, exist_ok=True)
    manifest_path(fixture_dir).unlink(missing_ok=True)
    log(f"[fixtures] building the offline stand-ins in {fixture_dir}")
    configs = build_zen(zen_dir(fixture_dir))
    log(f"[fixtures] zen dataset: {len(configs)} configs (TRL's generate_zen_dataset.py)")
    tokenizer = build_tokenizer(zen_dir(fixture_dir))
    log(f"[fixtures] tokenizer: {len(tokenizer)} ids, {EOS_TOKEN}={tokenizer.convert_tokens_to_ids(EOS_TOKEN)}")
    models = {}
    for module, template in MODEL_SCRIPTS.items():
        t0 = time.time()
        try:
            repo_id = build_model(fixture_dir, module, tokenizer, template)
            models[repo_id] = "built"
            log(f"[fixtures] {repo_id}: built ({time.time() - t0:.1f}s)")
        except Exception as exc:  # a model this transformers cannot build is reported, not fatal
            models[module] = f"not built: {type(exc).__name__}: {exc}"
            log(f"[fixtures] {module}: NOT BUILT: {type(exc).__name__}: {exc}")
            traceback.print_exc()
    manifest = {
        "version": BUILD_VERSION,
        "built_in_s": round(time.time() - start, 1),
        "zen_configs": configs,
        "models": models,
        "not_built": {repo: "stand-in not built (vision)" for repo in NOT_BUILT},
    }
    manifest_path(fixture_dir).write_text(json.dumps(manifest, indent=2))
    log(f"[fixtures] done in {time.time() - start:.0f}s")
    return manifest


# --- datasets -----------------------------------------------------------------------------------------------------
def build_zen(out: Path) -> list[str]:
    """Run TRL's generate_zen_dataset.main with every `push_to_hub` written to `<out>/<config>/<split>.parquet`."""
    from datasets import DatasetDict

    saved = []

    def save(self, repo_id, config_name="default", **kwargs):
        for split, dataset in self.items():
            path = out / config_name / f"{split}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            dataset.to_parquet(str(path))
        saved.append(config_name)

    with _on_path(TRL_SCRIPTS), _patched(DatasetDict, "push_to_hub", save):
        script = importlib.import_module("scripts.generate_zen_dataset")
        script.main(test_size=0.1, push_to_hub=True, repo_id="trl-internal-testing/zen")
    return saved


def zen_texts(zen: Path) -> list[str]:
    import pyarrow.parquet as pq

    texts = []

    def walk(value):
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for path in sorted(zen.glob("*/*.parquet")):
        for row in pq.read_table(path).to_pylist():
            walk(row)
    return texts


# --- tokenizer ----------------------------------------------------------------------------------------------------
def _filler_pieces(n: int, taken: set[str]):
    """`n` distinct byte-level word pieces (" ab", " ac", ...) that are not already tokens."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    i = 0
    while n:
        word, k = "", i
        while True:
            word = letters[k % 26] + word
            k = k // 26 - 1
            if k < 0:
                break
        i += 1
        piece = "\u0120" + word  # "Ġ": the byte-level form of a leading space
        if piece not in taken:
            taken.add(piece)
            n -= 1
            yield piece


def build_tokenizer(zen: Path):
    """A byte-level BPE (Qwen2's pre-tokenizer) trained on the zen texts, padded to Qwen's ids."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    from oger_trl.tiny_policy import train_byte_level_bpe

    corpus = zen_texts(zen)
    corpus += [text for texts, _ in TEACHERS for text in texts] * 50
    corpus += ["system", "user", "assistant", "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."]
    tok = train_byte_level_bpe(corpus, TRAINED_VOCAB)
    spec = json.loads(tok.to_str())
    vocab = spec["model"]["vocab"]
    trained = len(vocab)
    for token_id, piece in enumerate(_filler_pieces(FIRST_ADDED_ID - trained, set(vocab)), start=trained):
        vocab[piece] = token_id
    spec["added_tokens"] = []
    for offset, (content, special) in enumerate(QWEN_ADDED_TOKENS):
        vocab[content] = FIRST_ADDED_ID + offset
        spec["added_tokens"].append(
            {
                "id": FIRST_ADDED_ID + offset,
                "content": content,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": special,
            }
        )
    tok = Tokenizer.from_str(json.dumps(spec))
    for offset, (content, _) in enumerate(QWEN_ADDED_TOKENS):
        assert tok.token_to_id(content) == FIRST_ADDED_ID + offset, content
    assert tok.get_vocab_size(with_added_tokens=True) == VOCAB_SIZE
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS_TOKEN, pad_token=PAD_TOKEN)
    hf.chat_template = chat_template("qwen2_5")
    for texts, _ in TEACHERS:  # each must fit max_completion_length=8 with its EOS
        for text in texts:
            assert len(hf(text)["input_ids"]) + 1 <= 8, text
    return hf


def chat_template(family: str) -> str:
    """TRL's copy of the real Qwen2.5 / Qwen3 chat template (trl/chat_templates/*.jinja), which TRL recognises for
    tool calling."""
    import trl

    return (Path(trl.__file__).parent / "chat_templates" / f"{family}.jinja").read_text(encoding="utf-8")


def generation_config():
    """Qwen2.5-Instruct's generation config, with the stand-in tokenizer's ids."""
    from transformers import GenerationConfig

    return GenerationConfig(
        bos_token_id=FIRST_ADDED_ID,
        eos_token_id=[FIRST_ADDED_ID + 2, FIRST_ADDED_ID],
        pad_token_id=FIRST_ADDED_ID,
        do_sample=True,
        temperature=0.7,
        top_p=0.8,
        top_k=20,
        repetition_penalty=1.05,
    )


# --- models -------------------------------------------------------------------------------------------------------
def build_model(fixture_dir: Path, module: str, tokenizer, template: str) -> str:
    """Run one of TRL's tiny-model scripts with the Hub replaced by the stand-ins; return the repo id it wrote."""
    import copy

    import torch
    from transformers import AutoConfig, AutoTokenizer, GenerationConfig

    tok = copy.deepcopy(tokenizer)
    tok.chat_template = chat_template(template)
    written = []

    def from_reference(reference, *args, **kwargs):
        model_type = REFERENCE_MODEL_TYPES[reference]
        base = {"vocab_size": max(VOCAB_SIZE, AutoConfig.for_model(model_type).vocab_size)}
        base.update(bos_token_id=FIRST_ADDED_ID, eos_token_id=FIRST_ADDED_ID + 2, pad_token_id=FIRST_ADDED_ID)
        return AutoConfig.for_model(model_type, **{**base, **kwargs})

    def push_to_hub(model, tokenizer, generation_config, prefix=None, suffix=None, create_pr=None):
        name = model.__class__.__name__
        name = f"{prefix}-{name}" if prefix else name
        repo_id = f"{ORG}/{name}" + (f"-{suffix}" if suffix else "")
        if model.config.vocab_size < len(tokenizer):  # e.g. GLM-4.5's 151365 < the stand-in's Qwen ids
            model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        folder = repo_folder(fixture_dir, repo_id)
        commit = hashlib.sha1(f"{repo_id}@oger-conformance-{BUILD_VERSION}".encode()).hexdigest()
        snapshot = folder / "snapshots" / commit
        if folder.exists():
            import shutil

            shutil.rmtree(folder)
        snapshot.mkdir(parents=True)
        model.save_pretrained(snapshot)
        tokenizer.save_pretrained(snapshot)
        generation_config.save_pretrained(snapshot)
        (snapshot / "README.md").write_text(
            f"# Offline stand-in for {repo_id}\n\nBuilt by oger-trl's tests/conformance/fixtures.py from TRL's "
            "generate_tiny_models script, with a small BPE tokenizer (Qwen ids) instead of the reference one.\n"
        )
        (folder / "refs").mkdir()
        (folder / "refs" / "main").write_text(commit)
        written.append(repo_id)

    name = f"scripts.generate_tiny_models.{module}"
    with contextlib.ExitStack() as stack:
        stack.enter_context(_on_path(TRL_SCRIPTS))
        common = importlib.import_module("scripts.generate_tiny_models._common")
        for attr, value in {
            "check_transformers_version": lambda *a, **k: None,
            "check_dtype_pattern": lambda *a, **k: None,
            "print_config_diff": lambda *a, **k: None,
            "push_to_hub": push_to_hub,
        }.items():
            stack.enter_context(_patched(common, attr, value))
        stack.enter_context(_patched(AutoTokenizer, "from_pretrained", lambda *a, **k: tok))
        stack.enter_context(_patched(GenerationConfig, "from_pretrained", lambda *a, **k: generation_config()))
        stack.enter_context(_patched(AutoConfig, "from_pretrained", from_reference))
        sys.modules.pop(name, None)
        torch.manual_seed(0)
        with contextlib.redirect_stdout(sys.stderr):
            importlib.import_module(name)
    if len(written) != 1:
        raise RuntimeError(f"{module} wrote {written}, expected one model")
    return written[0]


@contextlib.contextmanager
def _on_path(path: Path):
    sys.path.insert(0, str(path))
    try:
        yield
    finally:
        sys.path.remove(str(path))


@contextlib.contextmanager
def _patched(owner, name: str, value):
    missing = object()
    old = owner.__dict__.get(name, missing) if isinstance(owner, type) else getattr(owner, name, missing)
    setattr(owner, name, value)
    try:
        yield
    finally:
        if old is missing:
            delattr(owner, name)
        else:
            setattr(owner, name, old)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=None, help="fixture folder (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    manifest = ensure_fixtures(args.dir, force=args.force)
    print(json.dumps(manifest, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
