"""The engines that sample a teacher: vLLM's offline engine and transformers (a model loaded in this process), or an
OpenAI-compatible endpoint (`vllm serve`, or any server with `/v1/chat/completions`). Each hands every finished
problem, with its n generations, to a callback as soon as it is done, so that nothing finished is lost."""

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass

from ..data.openr1 import chat_prompt
from ..data.prepare import THINK_OPEN
from ..errors import UsageError
from ..math_answers import THINK_CLOSE
from .problems import ProblemRow


@dataclass(frozen=True)
class Sampling:
    n: int
    temperature: float
    top_p: float
    max_new_tokens: int
    seed: int
    instruction: str | None
    system_prompt: str | None

    def messages(self, row: ProblemRow) -> list[dict]:
        return chat_prompt(row.problem, self.instruction, self.system_prompt)


@dataclass(frozen=True)
class Generation:
    text: str  # the whole assistant message, `<think>` opening included for a thinking model
    num_tokens: int
    finish_reason: str  # "stop" (EOS or a stop string) or "length" (cut by max_new_tokens)


OnDone = Callable[[ProblemRow, list[Generation]], None]


def sample_seed(seed: int, index: int, sample: int = 0) -> int:
    """A seed per problem (and sample): a problem's generations then do not depend on which batch, shard or resumed
    run draws them."""
    return ((seed * 1_000_003 + index) * 1_024 + sample) % (2**31 - 1)


class LocalEngine:
    """A model in this process (`evaluation.generation`'s vLLM or transformers backend), `batch_size` problems per
    call. With transformers, a batch is seeded by its first problem, so a resumed run redraws the same samples."""

    def __init__(self, backend, batch_size: int):
        self.backend, self.batch_size = backend, batch_size

    def run(self, problems: list[ProblemRow], sampling: Sampling, on_done: OnDone) -> None:
        for start in range(0, len(problems), self.batch_size):
            batch = problems[start : start + self.batch_size]
            prompts = [self.backend.render(sampling.messages(row)) for row in batch]
            outputs = self.backend.generate(
                prompts,
                sampling.n,
                sampling.temperature,
                sampling.top_p,
                sampling.max_new_tokens,
                seeds=[sample_seed(sampling.seed, row.index) for row in batch],
            )
            for row, prompt, completions in zip(batch, prompts, outputs, strict=True):
                opened = THINK_OPEN if prompt.endswith(THINK_OPEN) else ""  # the template opened the reasoning
                on_done(row, [Generation(opened + c.text, c.num_tokens, _finish(c.truncated)) for c in completions])


def _finish(truncated: bool) -> str:
    return "length" if truncated else "stop"


RETRIED_STATUSES = (408, 409, 429)  # with 5xx: what the OpenAI client retries with backoff


class EndpointError(UsageError):
    """The endpoint cannot serve this run: unreachable, stopped answering, or refusing the requests."""


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 16
    retries: int = 5
    timeout: float = 3600.0

    def api_key(self) -> str:
        return os.environ.get(self.api_key_env) or "EMPTY"  # servers started without --api-key accept any


class EndpointEngine:
    """Chat completions from an OpenAI-compatible server, one request per sample (so that each has its own token
    count, finish reason and seed), at most `concurrency` in flight. The OpenAI client retries 408/409/429/5xx and
    lost connections with exponential backoff, `retries` times; then the run stops with the endpoint's URL."""

    def __init__(self, endpoint: Endpoint):
        import openai

        self.endpoint, self.openai = endpoint, openai

    def check(self) -> None:
        """Reach the endpoint and find the model among those it serves, before anything else runs."""
        url = self.endpoint.base_url
        client = self.openai.OpenAI(base_url=url, api_key=self.endpoint.api_key(), max_retries=0, timeout=30)
        try:
            served = [model.id for model in client.models.list()]
        except self.openai.NotFoundError:
            return  # a server without GET /models: the first request will tell
        except self.openai.APIConnectionError as err:
            raise EndpointError(
                f"The endpoint {url} cannot be reached ({_cause(err)}): start the server or correct --base-url."
            ) from err
        except self.openai.APIStatusError as err:
            raise EndpointError(f"The endpoint {url} refused GET /models ({err.status_code}: {err.message}).") from err
        if self.endpoint.model not in served:
            raise EndpointError(f"The endpoint {url} serves {served}, not --model {self.endpoint.model!r}.")

    def run(self, problems: list[ProblemRow], sampling: Sampling, on_done: OnDone) -> None:
        asyncio.run(self._run(problems, sampling, on_done))

    async def _run(self, problems: list[ProblemRow], sampling: Sampling, on_done: OnDone) -> None:
        client = self.openai.AsyncOpenAI(
            base_url=self.endpoint.base_url,
            api_key=self.endpoint.api_key(),
            max_retries=self.endpoint.retries,
            timeout=self.endpoint.timeout,
        )
        slots = asyncio.Semaphore(self.endpoint.concurrency)
        tasks = [asyncio.ensure_future(self._problem(client, slots, row, sampling)) for row in problems]
        try:
            for finished in asyncio.as_completed(tasks):
                on_done(*await finished)
        except self.openai.APIStatusError as err:
            url = self.endpoint.base_url
            if err.status_code in RETRIED_STATUSES or err.status_code >= 500:  # the client retried it already
                raise EndpointError(
                    f"The endpoint {url} kept failing ({err.status_code}: {err.message}) after "
                    f"{self.endpoint.retries} retries."
                ) from err
            raise EndpointError(
                f"The endpoint {url} refused a request ({err.status_code}: {err.message}); a retry would not help: "
                "correct the settings (e.g. --max-new-tokens within the server's context)."
            ) from err
        except (self.openai.APIConnectionError, self.openai.APITimeoutError) as err:
            raise EndpointError(
                f"The endpoint {self.endpoint.base_url} stopped answering ({_cause(err)}) after "
                f"{self.endpoint.retries} retries."
            ) from err
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await client.close()

    async def _problem(self, client, slots, row: ProblemRow, sampling: Sampling):
        samples = [self._sample(client, slots, row, sampling, k) for k in range(sampling.n)]
        return row, list(await asyncio.gather(*samples))

    async def _sample(self, client, slots, row: ProblemRow, sampling: Sampling, sample: int) -> Generation:
        async with slots:
            response = await client.chat.completions.create(
                model=self.endpoint.model,
                messages=sampling.messages(row),
                n=1,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                max_tokens=sampling.max_new_tokens,
                seed=sample_seed(sampling.seed, row.index, sample),
            )
        choice = response.choices[0]
        extra = choice.message.model_extra or {}
        reasoning = extra.get("reasoning_content") or extra.get("reasoning")
        tokens = response.usage.completion_tokens if response.usage else 0
        return Generation(endpoint_text(choice.message.content, reasoning), tokens, choice.finish_reason or "stop")


def endpoint_text(content: str | None, reasoning: str | None) -> str:
    """The assistant message as an offline engine would give it: a reasoning part the server split off (a reasoning
    parser) goes back inside `<think>`; a reasoning block the chat template opened in the prompt gets its opening."""
    content = (content or "").lstrip()
    if reasoning:  # no answer after it: the reasoning was cut, and stays open as the model left it
        closing = f"\n{THINK_CLOSE}\n\n{content}" if content else ""
        return f"{THINK_OPEN}{reasoning.strip()}{closing}"
    if THINK_CLOSE in content and not content.startswith(THINK_OPEN.strip()):
        return THINK_OPEN + content
    return content


def _cause(err: Exception) -> str:
    cause = err.__cause__ or err
    return f"{type(cause).__name__}: {cause}"
