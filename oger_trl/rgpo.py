"""RGPO inside `OGERTrainer._generate`: find the groups whose online completions all fail, regenerate some of their
completions with the rationale as a hint, and transfer the winners back under the unguided prompt.

Everything that involves other processes is collective and unconditional: the pre-scoring (TRL's reward gather), the
guided generation (every process generates the same number of rows, padding with its own prompts) and the scoring of
the guided completions. Decisions are pure functions of gathered data (`oger_trl.guidance`); each process rewrites
only the rows it holds.
"""

import contextlib
import copy
from collections import Counter
from collections.abc import Iterator

import torch
from trl import GRPOTrainer

from .batch import GUIDED, GenerationOutput, RowOrigin
from .generation_rows import completion_like, replace_completion
from .guidance import choose_transfers, failed_groups, hinted_prompt
from .row_layout import RowLayout


class GuidedRegeneration:
    def __init__(self, trainer):
        self.trainer = trainer
        self.args = trainer.args
        config = trainer.model.config.get_text_config()
        context = getattr(config, "max_position_embeddings", None)
        self.prompt_budget = self.args.guidance_max_prompt_length or (
            context - trainer.max_completion_length if context else None
        )

    def guide(self, prompts: list, rows: list[dict], result: GenerationOutput, origins: list[RowOrigin]) -> set[int]:
        """Transfer guided completions into the failed groups of this generation batch; returns the global rows that
        received one (on every process) and marks the local ones `GUIDED` in `origins`."""
        trainer, n = self.trainer, self.trainer.num_generations
        completion_ids, completions = result.completion_ids, result.completions
        layout = RowLayout(trainer.accelerator.process_index, len(rows), n)
        online = self.verifiable_rewards(rows, prompts, completions, completion_ids)
        failed = failed_groups(online, n, self.args.guidance_threshold)
        requests, reasons = self.requests(prompts, rows, failed, layout)
        counts = trainer.accelerator.gather(torch.tensor([len(requests)], device=trainer.accelerator.device))
        count = int(counts.max())
        transfers = set()
        success, generated = 0.0, 0
        if count > 0:
            guided_ids, guided_texts, owners = self.generate(requests, prompts, count, layout)
            pad = count - len(requests)
            rewards = self.verifiable_rewards(
                [rows[i] for i, _ in requests] + [rows[0]] * pad,
                [prompts[i] for i, _ in requests] + [prompts[0]] * pad,
                [completion_like(text, completions[0]) for text in guided_texts],
                guided_ids,
            ).cpu()
            all_owners = trainer.accelerator.gather(torch.tensor(owners, device=trainer.accelerator.device)).cpu()
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
        tokenizer = self.trainer._tokenizer
        ids = tokenizer(rationale, add_special_tokens=False)["input_ids"]
        while room > 0:  # re-tokenising the joined text can merge tokens differently: shrink until it fits
            hinted = hinted_prompt(prompt, tokenizer.decode(ids[:room]), template)
            if self.prompt_length(hinted) <= self.prompt_budget:
                return hinted, "rationales_truncated"
            room -= max(1, room // 10)
        return None, "rationales_skipped"

    def prompt_length(self, prompt) -> int:
        return len(self.trainer._tokenize_prompts([prompt])[0][0])

    def generate(self, requests: list, prompts: list, count: int, layout: RowLayout):
        """Guided completions for the requests, padded to `count` rows with this process's own first prompt so that
        every process generates as many rows; returns ids, decoded texts and owner rows (-1: padding)."""
        trainer = self.trainer
        padded = [hinted for _, hinted in requests] + [prompts[0]] * (count - len(requests))
        prompt_ids, images, multimodal = trainer._tokenize_prompts(padded)
        completion_ids, _ = trainer._generate_single_turn(prompt_ids, images, multimodal, num_generations=1)
        texts = trainer.processing_class.batch_decode(completion_ids, skip_special_tokens=True)
        owners = [layout.to_global(i) for i, _ in requests] + [-1] * (count - len(requests))
        return completion_ids, texts, owners

    def verifiable_rewards(self, rows, prompts, completions, completion_ids) -> torch.Tensor:
        """Gathered verifiable rewards R_m from the user's reward functions, without touching the completion table or
        the pending metrics (TRL scores the final group again)."""
        trainer = self.trainer
        with _pending_logs_restored(trainer):
            rewards = GRPOTrainer._calculate_rewards(trainer, rows, prompts, completions, completion_ids)
        return trainer.verifiable_reward(rewards)

    def log_metrics(self, failed, generated: int, success: float, transferred: int, rows: int, reasons: Counter):
        trainer = self.trainer
        names = ("rows_without_rationale", "rationales_truncated", "rationales_skipped")
        local = torch.tensor([reasons[name] for name in names], dtype=torch.float, device=trainer.accelerator.device)
        totals = trainer.accelerator.gather(local.unsqueeze(0)).sum(0).tolist()
        metrics = trainer._metrics["train"]
        metrics["rgpo/failed_groups_frac"].append(failed.float().mean().item())
        metrics["rgpo/guided_success_rate"].append(success / generated if generated else float("nan"))
        metrics["rgpo/transferred_frac"].append(transferred / rows)
        for name, total in zip(names, totals, strict=True):
            metrics[f"rgpo/{name}"].append(total)


@contextlib.contextmanager
def _pending_logs_restored(trainer) -> Iterator[None]:
    """Reward functions may call `log_extra`/`log_metric`; what they log while pre-scoring must not reach the table."""
    extra, metrics = copy.deepcopy(trainer._pending_extra_logs), copy.deepcopy(trainer._pending_metrics)
    try:
        yield
    finally:
        trainer._pending_extra_logs, trainer._pending_metrics = extra, metrics
