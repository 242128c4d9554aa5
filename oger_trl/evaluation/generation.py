"""Generation backends for evaluation: vLLM when it is installed and a GPU is present, transformers otherwise."""

import importlib.util
from dataclasses import dataclass

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from ..smollm2 import resolve_model_name


@dataclass(frozen=True)
class Completion:
    text: str
    num_tokens: int
    truncated: bool  # stopped by the token budget, not by EOS


class TransformersBackend:
    """Batched sampling with `generate` (left padding), for a loaded model or, during training, the policy itself."""

    def __init__(self, model, tokenizer, eos_token_ids: list[int] | None = None):
        self.model, self.tokenizer = model, tokenizer
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        eos = model.generation_config.eos_token_id
        self.eos_ids = set(eos_token_ids or [tokenizer.eos_token_id, *(eos if isinstance(eos, list) else [eos])]) - {
            None
        }

    @classmethod
    def from_pretrained(cls, model: str, adapter: str | None = None, dtype: str = "auto", device: str | None = None):
        path = resolve_model_name(model)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        loaded = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device)
        if adapter:
            from peft import PeftModel

            loaded = PeftModel.from_pretrained(loaded, adapter)
        return cls(loaded.eval(), AutoTokenizer.from_pretrained(path))

    def render(self, prompt: str | list[dict]) -> str:
        return render_chat(self.tokenizer, prompt)

    @torch.no_grad()
    def generate(
        self,
        prompts: list[str],
        n: int,
        temperature: float,
        top_p: float,
        max_new_tokens: int,
        seeds: list[int] | None = None,
    ) -> list[list[Completion]]:
        """`seeds`: one per prompt; the batch is sampled from the first (`generate` shares one generator)."""
        if seeds:
            torch.manual_seed(seeds[0])
        padding_side, self.tokenizer.padding_side = self.tokenizer.padding_side, "left"
        inputs = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        self.tokenizer.padding_side = padding_side
        sampled = self.model.generate(
            **inputs.to(self.model.device),
            do_sample=temperature > 0,
            temperature=temperature if temperature > 0 else None,
            top_p=top_p,
            max_new_tokens=max_new_tokens,
            num_return_sequences=n,
            pad_token_id=self.tokenizer.pad_token_id,
        )[:, inputs["input_ids"].size(1) :].tolist()
        completions = [self._completion(ids) for ids in sampled]
        return [completions[i * n : (i + 1) * n] for i in range(len(prompts))]

    def _completion(self, ids: list[int]) -> Completion:
        end = next((t + 1 for t, token in enumerate(ids) if token in self.eos_ids), None)
        kept = ids[:end] if end is not None else ids
        return Completion(self.tokenizer.decode(kept, skip_special_tokens=True), len(kept), end is None)


class VLLMBackend:
    """vLLM offline inference (GPU); a LoRA adapter is served with `enable_lora`."""

    def __init__(self, model: str, adapter: str | None = None, dtype: str = "auto", **engine_args):
        """`engine_args` go to `vllm.LLM` as they are (e.g. `tensor_parallel_size`, `max_model_len`, `seed`)."""
        from vllm import LLM
        from vllm.lora.request import LoRARequest

        path = resolve_model_name(model)
        self.llm = LLM(model=path, dtype=dtype, enable_lora=adapter is not None, **engine_args)
        self.tokenizer = self.llm.get_tokenizer()
        self.lora = LoRARequest("adapter", 1, adapter) if adapter else None

    def render(self, prompt: str | list[dict]) -> str:
        return render_chat(self.tokenizer, prompt)

    def generate(
        self,
        prompts: list[str],
        n: int,
        temperature: float,
        top_p: float,
        max_new_tokens: int,
        seeds: list[int] | None = None,
    ) -> list[list[Completion]]:
        """`seeds`: one per prompt, so that a prompt's samples do not depend on the batch it is in."""
        from vllm import SamplingParams

        def sampling(seed: int | None) -> SamplingParams:
            return SamplingParams(n=n, temperature=temperature, top_p=top_p, max_tokens=max_new_tokens, seed=seed)

        params = [sampling(seed) for seed in seeds] if seeds else sampling(None)
        outputs = self.llm.generate(  # rendered chat text already holds the template's special tokens
            prompts,
            params,
            lora_request=self.lora,
            use_tqdm=False,
            tokenization_kwargs={"add_special_tokens": False},
        )
        return [
            [Completion(o.text, len(o.token_ids), o.finish_reason == "length") for o in output.outputs]
            for output in outputs
        ]


def render_chat(tokenizer, prompt: str | list[dict]) -> str:
    """The text a chat model continues: a user message (or a conversation) in the tokenizer's chat template, ending
    with the assistant's turn; plain text for a model without a template."""
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    if tokenizer.chat_template is None:
        return "\n\n".join(m["content"] for m in messages)
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def make_backend(name: str, model: str, adapter: str | None = None, dtype: str = "auto", **vllm_args):
    """`auto` picks vLLM when it is installed and CUDA is available, else transformers. `vllm_args` go to vLLM's engine."""
    if name == "auto":
        name = "vllm" if importlib.util.find_spec("vllm") and torch.cuda.is_available() else "transformers"
    if name == "vllm":
        return VLLMBackend(model, adapter, dtype, **vllm_args)
    if name == "transformers":
        return TransformersBackend.from_pretrained(model, adapter, dtype)
    raise ValueError(f"Unknown generation backend {name!r}: use auto, vllm or transformers")
