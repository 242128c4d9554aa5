"""RGPO inside `OGERTrainer._generate`: find the groups whose online completions all fail, regenerate some of their
completions with the rationale as a hint, and transfer the winners back under the unguided prompt.

Everything that involves other processes is collective and unconditional: the pre-scoring (TRL's reward gather), the
guided generation (every process generates the same number of rows, padding with its own prompts) and the scoring of
the guided completions. Decisions are pure functions of gathered data (`oger_trl.guidance`); each process rewrites
only the rows it holds. The trainer is reached only through `GuidanceIO`, the few callables RGPO needs.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .batch import GUIDED, GenerationOutput, RowOrigin
from .generation_rows import completion_like, replace_completion
from .guidance import choose_transfers, failed_groups, hinted_prompt
from .row_layout import RowLayout


@dataclass(frozen=True)
class GuidanceIO:
    """What RGPO needs from the trainer. `generate`, `score` and `gather` are collective: every process calls each of
    them the same number of times per batch."""

    process_index: int
    num_generations: int
    generate: Callable[[list], tuple[list[list[int]], list[str]]]  # prompts -> completion ids and texts, one each
    score: Callable[[list[dict], list, list, list[list[int]]], torch.Tensor]  # gathered R_m; logs nothing
    gather: Callable[[torch.Tensor], torch.Tensor]  # over processes, on the CPU
    prompt_length: Callable[[Any], int]  # tokens of a prompt as the policy sees it (chat template applied)
    tokenize: Callable[[str], list[int]]
    detokenize: Callable[[list[int]], str]
    log: Callable[[str, float], None]  # a training metric


class GuidedRegeneration:
    def __init__(self, args, io: GuidanceIO, prompt_budget: int | None):
        """`prompt_budget`: the most tokens a hinted prompt may have (None: unbounded)."""
        self.args, self.io, self.prompt_budget = args, io, prompt_budget

    def guide(self, prompts: list, rows: list[dict], result: GenerationOutput, origins: list[RowOrigin]) -> set[int]:
        """Transfer guided completions into the failed groups of this generation batch; returns the global rows that
        received one (on every process) and marks the local ones `GUIDED` in `origins`."""
        io, n = self.io, self.io.num_generations
        completion_ids, completions = result.completion_ids, result.completions
        layout = RowLayout(io.process_index, len(rows), n)
        online = io.score(rows, prompts, completions, completion_ids)
        failed = failed_groups(online, n, self.args.guidance_threshold)
        requests, reasons = self.requests(prompts, rows, failed, layout)
        count = int(io.gather(torch.tensor([len(requests)])).max())
        transfers = set()
        success, generated = 0.0, 0
        if count > 0:
            guided_ids, guided_texts, owners = self.generate(requests, prompts, count, layout)
            pad = count - len(requests)
            rewards = io.score(
                [rows[i] for i, _ in requests] + [rows[0]] * pad,
                [prompts[i] for i, _ in requests] + [prompts[0]] * pad,
                [completion_like(text, completions[0]) for text in guided_texts],
                guided_ids,
            ).cpu()
            all_owners = io.gather(torch.tensor(owners))
            transfers = set(
                choose_transfers(
                    all_owners,
                    rewards,
                    online.cpu(),
                    n,
                    self.args.max_guided_per_group,
                    self.args.guidance_threshold,
                )
            )
            real = all_owners >= 0
            generated = int(real.sum())
            success = float((rewards[real] > self.args.guidance_threshold).sum())
            for j, (i, _) in enumerate(requests):
                if layout.to_global(i) in transfers:  # sampled under the hinted prompt: no importance correction
                    replace_completion(result, i, guided_texts[j], guided_ids[j])
                    origins[i] = GUIDED
        self.log_metrics(failed, generated, success, len(transfers), len(online), reasons)
        return transfers

    def requests(self, prompts: list, rows: list[dict], failed: torch.Tensor, layout: RowLayout):
        """(local row, hinted prompt) for the first `num_guided_generations` rows of every failed group held here, and
        the counted reasons why some rows could not be guided."""
        reasons, requests = Counter(), []
        for i, row in enumerate(rows):
            group, slot = layout.group_and_slot(i)
            if not failed[group] or slot >= self.args.num_guided_generations:
                continue
            rationale = row.get(self.args.rationale_column)
            if not rationale:
                reasons["rows_without_rationale"] += 1
                continue
            hinted, reason = self.fit(prompts[i], rationale)
            if reason:
                reasons[reason] += 1
            if hinted is not None:
                requests.append((i, hinted))
        return requests, reasons

    def fit(self, prompt, rationale: str):
        """The hinted prompt within the token budget: whole, with the rationale truncated, or None (skipped)."""
        template = self.args.guidance_template
        hinted = hinted_prompt(prompt, rationale, template)
        if self.prompt_budget is None or self.prompt_length(hinted) <= self.prompt_budget:
            return hinted, None
        room = self.prompt_budget - self.prompt_length(hinted_prompt(prompt, "", template))
        if self.args.rationale_overflow == "skip" or room <= 0:
            return None, "rationales_skipped"
        ids = self.io.tokenize(rationale)
        while room > 0:  # re-tokenising the joined text can merge tokens differently: shrink until it fits
            hinted = hinted_prompt(prompt, self.io.detokenize(ids[:room]), template)
            if self.prompt_length(hinted) <= self.prompt_budget:
                return hinted, "rationales_truncated"
            room -= max(1, room // 10)
        return None, "rationales_skipped"

    def prompt_length(self, prompt) -> int:
        return self.io.prompt_length(prompt)

    def generate(self, requests: list, prompts: list, count: int, layout: RowLayout):
        """Guided completions for the requests, padded to `count` rows with this process's own first prompt so that
        every process generates as many rows; returns ids, decoded texts and owner rows (-1: padding)."""
        padded = [hinted for _, hinted in requests] + [prompts[0]] * (count - len(requests))
        completion_ids, texts = self.io.generate(padded)
        owners = [layout.to_global(i) for i, _ in requests] + [-1] * (count - len(requests))
        return completion_ids, texts, owners

    def log_metrics(self, failed, generated: int, success: float, transferred: int, rows: int, reasons: Counter):
        names = ("rows_without_rationale", "rationales_truncated", "rationales_skipped")
        local = torch.tensor([reasons[name] for name in names], dtype=torch.float)
        totals = self.io.gather(local.unsqueeze(0)).sum(0).tolist()
        log = self.io.log
        log("rgpo/failed_groups_frac", failed.float().mean().item())
        log("rgpo/guided_success_rate", success / generated if generated else float("nan"))
        log("rgpo/transferred_frac", transferred / rows)
        for name, total in zip(names, totals, strict=True):
            log(f"rgpo/{name}", total)


def prompt_budget(max_prompt_length: int | None, context_length: int | None, max_completion_length: int) -> int | None:
    """Tokens a hinted prompt may take: the configured maximum, else what the context leaves after a completion."""
    if max_prompt_length:
        return max_prompt_length
    return context_length - max_completion_length if context_length else None
