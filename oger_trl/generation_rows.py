"""Rewriting rows of `GRPOTrainer._generate`'s output (`GenerationOutput`): the one place that knows its
structures, shared by the teacher splice and the RGPO transfer."""

from .batch import GenerationOutput


def completion_like(text: str, example) -> str | list[dict]:
    """`text` in the structure of `example`, a completion as TRL decodes it: a string, or one assistant message."""
    return [{"role": "assistant", "content": text}] if isinstance(example, list) else text


def replace_completion(result: GenerationOutput, i: int, text: str, token_ids: list[int]) -> None:
    """Row i becomes a completion the policy did not sample under its prompt: new ids and text, and, under vLLM,
    NaN sampling log-probs of the same length, which TRL turns into an importance ratio of exactly 1."""
    result.completion_ids[i] = token_ids
    result.completions[i] = completion_like(text, result.completions[i])
    if result.logprobs is not None:
        result.logprobs[i] = [float("nan")] * len(token_ids)


def completion_text(completion: str | list[dict]) -> str:
    """The text of a completion as TRL's `_generate` returns it (a string, or one assistant message)."""
    if isinstance(completion, str):
        return completion
    return completion[0].get("content") or ""
