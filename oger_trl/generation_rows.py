"""Rewriting rows of `GRPOTrainer._generate`'s output (the 8-tuple as a list): the one place that knows its
structures, shared by the teacher splice and the RGPO transfer."""


def completion_like(text: str, example) -> str | list[dict]:
    """`text` in the structure of `example`, a completion as TRL decodes it: a string, or one assistant message."""
    return [{"role": "assistant", "content": text}] if isinstance(example, list) else text


def replace_completion(result: list, i: int, text: str, token_ids: list[int]) -> None:
    """Row i becomes a completion the policy did not sample under its prompt: new ids and text, and, under vLLM,
    NaN sampling log-probs of the same length, which TRL turns into an importance ratio of exactly 1."""
    _, completion_ids, _, completions, logprobs, *_ = result
    completion_ids[i] = token_ids
    completions[i] = completion_like(text, completions[i])
    if logprobs is not None:
        logprobs[i] = [float("nan")] * len(token_ids)
