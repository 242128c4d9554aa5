"""`OGERTrainer`: TRL's `GRPOTrainer` with offline teacher completions spliced into the groups, an exploration reward
for diverging from them, and LUFFY's policy-shaping loss on teacher tokens.

The trainer only wires the pure functions of `exploration`, `row_layout` and `shaping` to five TRL hooks. The path of
one generation batch (DESIGN.md 2.1):
1. `_generate_and_score_completions` opens the batch's `BatchContext` (`oger_trl.batch`) around `super()` and, once
   TRL has scored the batch, adds each row's `sample_source` (policy / teacher / guided) to the output;
2. `_generate` runs TRL's generation (recording the decoding entropies when transformers decodes), RGPO guidance,
   the divergence of the online completions and, from gathered data, the splice; it records each row's origin,
   prompt ids, divergence and entropies in the context;
3. `_get_per_token_logps_and_entropies` takes the entropies from TRL's own no-grad pass of the trained policy over
   the batch when nothing recorded them while decoding (never from a reference pass), and hands the loss forward's
   log-probs to `_compute_loss`;
4. `_calculate_rewards` appends the exploration reward column from the context (H_last, divergence, origins);
5. `_compute_loss`: TRL's loss with teacher advantages zeroed, plus the shaping term on teacher tokens.
Groups may span processes: every decision is a pure function of gathered data, every collective runs on every process.
"""

import contextlib
import copy
import logging
import os
import textwrap
import warnings
from collections import Counter
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field, replace

import torch
import trl
from accelerate.utils import gather_object, is_peft_model
from datasets import Dataset
from packaging.version import Version
from peft.tuners.tuners_utils import BaseTunerLayer
from transformers import ProcessorMixin
from trl import GRPOTrainer
from trl.extras.profiling import profiling_context, profiling_decorator
from trl.models.utils import disable_gradient_checkpointing
from trl.trainer.utils import get_config_model_id, nanstd, pad

from .batch import POLICY as POLICY_ROW
from .batch import GenerationOutput, RowOrigin, SampleSource, current_batch, open_batch
from .bonuses import BONUSES, BonusInputs, resolve_bonus
from .checkpoints import completed_epochs, follow_umask, resume_target
from .completion_states import DecodingStatesRecorder, ForwardStatesRecorder, mean_completion_state
from .config import OGERConfig
from .data import validate_oger_dataset
from .decoding_entropy import DecodingEntropyRecorder, LastTokenEntropy
from .encoder import SentenceEncoder
from .errors import UsageError
from .exploration import (
    divergence_from_similarity,
    exploration_reward,
    group_rng,
    mean_teacher_similarity,
    plan_group_splice,
    scheduled_coef,
    verifiable_reward,
)
from .generation_rows import completion_text, replace_completion
from .hub import card_without_fake_links, oger_card_section, with_oger_section
from .paths import is_local_path
from .rewards import require_reward_columns, unscored_reward_funcs
from .rgpo import GuidanceIO, GuidedRegeneration, prompt_budget
from .row_layout import RowLayout
from .self_teachers import SELF_TEACHER, SelfCompletion, SelfTeacherPool
from .shaping import aggregate_like_trl, policy_shaping_loss
from .teacher_cache import TeacherEmbeddings
from .teacher_fit import check_teachers_fit, ending_with_eos, offline_teachers, spliced_length_counter

logger = logging.getLogger(__name__)

# The private GRPOTrainer hooks below move between TRL releases: the package is tested against one minor version.
TESTED_TRL = ("1.16", "1.17")
if not Version(TESTED_TRL[0]) <= Version(trl.__version__) < Version(TESTED_TRL[1]):
    warnings.warn(
        f"oger-trl is tested with trl>={TESTED_TRL[0]},<{TESTED_TRL[1]} (it hooks GRPOTrainer internals that move "
        f"between releases); trl {trl.__version__} is installed.",
        stacklevel=2,
    )

EXPLORATION_REWARD_NAME = "oger_exploration"

OGER_CITATION = textwrap.dedent("""\
    @article{ma2026oger,
        title        = {{OGER: A Robust Offline-Guided Exploration Reward for Hybrid Reinforcement Learning}},
        author       = {Xinyu Ma and Mingzhou Xu and Xuebo Liu and Chang Jin and Qiang Wang and Derek F. Wong and Min Zhang},
        year         = 2026,
        eprint       = {arXiv:2604.18530},
    }""")


@dataclass(frozen=True)
class TeacherSet:
    """One prompt's teacher completions and their names; the last `len(self_embeddings)` are self-teachers, whose
    embeddings are kept from when they were generated (not compared: equal texts and names mean the same entries)."""

    texts: tuple[str, ...]
    names: tuple[str, ...]
    self_embeddings: tuple[torch.Tensor, ...] = field(default=(), compare=False)


class OGERTrainer(GRPOTrainer):
    """Trainer for OGER (Offline-Guided Exploration Reward, [arXiv 2604.18530](https://huggingface.co/papers/2604.18530)).

    Takes the arguments of [`GRPOTrainer`] plus an optional `encoder`; `args` must be an [`OGERConfig`]. Datasets follow
    the OGER contract (TRL's prompt format plus a teacher-completions column, see `oger_trl.data`). `reward_funcs` are
    the verifiable rewards R_m (e.g. `trl.rewards.accuracy_reward`): they score online and teacher completions alike.
    The exploration reward is logged as one more reward column, `oger_exploration`, and (when it can be non-zero)
    weighted as one; `reward_funcs`, `reward_processing_classes` and `reward_func_names` hold what was passed, and
    `reward_weights` then ends with its weight 1.

    Args:
        encoder (`SentenceEncoder`, *optional*):
            The frozen sentence encoder measuring divergence. Built from the `encoder_*` fields of `args` when None.
    """

    _tag_names = ["trl", "grpo", "oger"]
    _name = "OGER"
    _paper = {
        "title": "OGER: A Robust Offline-Guided Exploration Reward for Hybrid Reinforcement Learning",
        "id": "2604.18530",
        "citation": OGER_CITATION + "\n\n" + GRPOTrainer._paper["citation"],
    }

    def __init__(
        self,
        model,
        reward_funcs=None,
        args: OGERConfig | None = None,
        train_dataset=None,
        eval_dataset=None,
        processing_class=None,
        reward_processing_classes=None,
        callbacks=None,
        optimizers=(None, None),
        quantization_config=None,
        peft_config=None,
        tools=None,
        rollout_func=None,
        environment_factory=None,
        encoder: SentenceEncoder | None = None,
    ):
        if args is None:
            model_name = model if isinstance(model, str) else get_config_model_id(model.config)
            args = OGERConfig(f"{model_name.split('/')[-1]}-OGER")
        if not isinstance(args, OGERConfig):
            raise TypeError(f"OGERTrainer needs `args` to be an OGERConfig, got {type(args).__name__}.")
        if args.oger_active:  # with OGER off these are GRPO's to handle, and OGER leaves such batches alone
            _reject_unsupported_inputs(tools, rollout_func, environment_factory)
        if isinstance(processing_class, ProcessorMixin):
            raise ValueError(_UNSUPPORTED_VISION)
        summaries = {}
        # with OGER off, an environment may own the data (prompts from its `reset()`): TRL's contract alone applies
        checked = (
            (None, None) if environment_factory is not None and not args.oger_active else (train_dataset, eval_dataset)
        )
        for name, dataset in _named_datasets(*checked):
            training = name == "train_dataset"
            summaries[name] = validate_oger_dataset(
                dataset,
                name=name,
                teacher_column=args.teacher_completions_column,
                sources_column=args.teacher_sources_column,
                rationale_column=args.rationale_column if args.guidance and training else None,
                require_teachers=training and args.uses_teachers,  # evaluation measures the policy: it never splices
            )
            require_reward_columns(reward_funcs, dataset, name)
        if summaries.get("train_dataset") is not None and summaries["train_dataset"].num_rows == 0:
            raise UsageError("train_dataset has no rows: there is nothing to train on. Check the data file and split.")
        self.teacher_counts = _used_teachers(summaries.get("train_dataset"), args)
        fit = None  # the tokenizer alone decides it: before the encoder and the policy load
        if isinstance(train_dataset, Dataset) and args.num_offline_per_group > 0:
            fit = check_teachers_fit(train_dataset, args, spliced_length_counter(model, processing_class, args))
        # Built before the policy: GRPOTrainer seeds the RNGs in its __init__, so the encoder never shifts sampling.
        self.encoder = encoder or SentenceEncoder.from_config(args)
        super().__init__(
            model,
            reward_funcs=reward_funcs,
            args=args,
            train_dataset=train_dataset,
            eval_dataset=eval_dataset,
            processing_class=processing_class,
            reward_processing_classes=reward_processing_classes,
            callbacks=callbacks,
            optimizers=optimizers,
            quantization_config=quantization_config,
            peft_config=peft_config,
            tools=tools,
            rollout_func=rollout_func,
            environment_factory=environment_factory,
        )
        if self._is_vlm:
            raise ValueError(_UNSUPPORTED_VISION)
        # `reward_funcs`, `reward_processing_classes` and `reward_func_names` stay what the user passed; when it can be
        # non-zero, the exploration reward is one more column of the rewards TRL weights and sums (weight 1: its scale
        # is `exploration_coef`), appended by `_calculate_rewards`. Without it, TRL's rewards stay exactly GRPO's.
        self.exploration_column = len(self.reward_funcs) if args.pays_exploration_reward else None
        if self.exploration_column is not None:
            self.reward_weights = torch.cat([self.reward_weights, torch.ones(1)])
        self.guidance = self._guided_regeneration() if args.guidance else None
        self.exploration_bonus = resolve_bonus(args.exploration_bonus, args.representation_ridge)
        # the representation bonus and user bonuses read the policy's hidden states of each completion
        self.records_states = args.exploration_bonus not in ("divergence", "none")
        self.last_token_entropy = LastTokenEntropy(
            self.eos_token_ids,
            self.mask_truncated_completions,
            forward=self._entropy_forward,
            any_process=lambda flag: bool(
                self.accelerator.gather(torch.tensor([flag], device=self.accelerator.device)).any()
            ),
        )
        self.teacher_embeddings = TeacherEmbeddings(self.encoder, args.teacher_cache_dir)
        self.self_teachers = (
            SelfTeacherPool(args.self_teachers, args.self_teacher_selection) if args.self_teachers else None
        )
        for name, summary in summaries.items():
            if summary is not None:
                kept = sum(self.teacher_counts.values())
                used = (
                    f" ({kept} of them from `teachers` {args.teachers})"
                    if args.teachers and name == "train_dataset"
                    else ""
                )
                self.accelerator.print(
                    f"{name}: {summary.num_rows} prompts, {summary.num_teacher_completions} teacher completions{used}, "
                    f"{summary.rows_without_teachers} prompts without teachers"
                    + (" (trained as plain GRPO)." if name == "train_dataset" else ".")
                )
        if fit is not None:
            message, all_fit = fit
            (self.accelerator.print if all_fit else logger.warning)(message)
        with self.accelerator.local_main_process_first():  # one process per node encodes, the others load its file
            for _, dataset in _named_datasets(train_dataset, eval_dataset):
                if isinstance(dataset, Dataset) and args.teacher_completions_column in dataset.column_names:
                    show_progress = self.accelerator.is_local_main_process
                    self.teacher_embeddings.add_dataset(dataset, args.teacher_completions_column, show_progress)
        self.recipe: str | None = None  # the recipe file this run was launched with, for the model card
        self._unscored_warned: set[str] = set()
        self._epochs_before_resume = 0

    def _guided_regeneration(self) -> GuidedRegeneration:
        """RGPO, wired to this trainer through the few callables it needs."""
        context = getattr(self.model.config.get_text_config(), "max_position_embeddings", None)
        io = GuidanceIO(
            process_index=self.accelerator.process_index,
            num_generations=self.num_generations,
            generate=self._generate_one_each,
            score=self._verifiable_rewards_unlogged,
            gather=lambda tensor: self.accelerator.gather(tensor.to(self.accelerator.device)).cpu(),
            prompt_length=lambda prompt: len(self._tokenize_prompts([prompt])[0][0]),
            tokenize=lambda text: self._tokenizer(text, add_special_tokens=False)["input_ids"],
            detokenize=self._tokenizer.decode,
            log=lambda name, value: self._metrics["train"][name].append(value),
        )
        budget = prompt_budget(self.args.guidance_max_prompt_length, context, self.max_completion_length)
        return GuidedRegeneration(self.args, io, budget)

    def _generate_one_each(self, prompts: list) -> tuple[list[list[int]], list[str]]:
        """One completion per prompt with TRL's generation (collective), as ids and decoded text."""
        prompt_ids, images, multimodal = self._tokenize_prompts(prompts)
        completion_ids, _ = self._generate_single_turn(prompt_ids, images, multimodal, num_generations=1)
        return completion_ids, self.processing_class.batch_decode(completion_ids, skip_special_tokens=True)

    def _verifiable_rewards_unlogged(self, rows, prompts, completions, completion_ids) -> torch.Tensor:
        """Gathered R_m from the user's reward functions (collective). What they log through `log_extra` or
        `log_metric` is dropped: TRL scores the final group again, and that is what the table and metrics show."""
        extra, metrics = copy.deepcopy(self._pending_extra_logs), copy.deepcopy(self._pending_metrics)
        try:
            rewards = super()._calculate_rewards(rows, prompts, completions, completion_ids)
        finally:
            self._pending_extra_logs, self._pending_metrics = extra, metrics
        return self.verifiable_reward(rewards)

    def train(self, resume_from_checkpoint=None, trial=None, ignore_keys_for_eval=None, **kwargs):
        """`Trainer.train`, where `resume_from_checkpoint=True` (or "true"/"latest", as a command line gives it) means
        the latest *complete* checkpoint of `output_dir`: a save cut short is skipped with a message."""
        checkpoint = resume_target(resume_from_checkpoint, self.args.output_dir)
        if self.self_teachers is not None and checkpoint is not None:
            self.self_teachers.load(checkpoint)
        self._epochs_before_resume = completed_epochs(checkpoint) if checkpoint is not None else 0
        return super().train(checkpoint, trial, ignore_keys_for_eval, **kwargs)

    def _get_train_sampler(self, dataset=None):
        """TRL's sampler, advanced past the epochs a resumed run had finished. Its generator is seeded once and draws
        one permutation per epoch; a resumed run builds it anew, so without this its epoch k would take epoch 1's
        order instead of the uninterrupted run's."""
        sampler = super()._get_train_sampler(dataset)
        for _ in range(self._epochs_before_resume):
            for _ in sampler:
                pass
        return sampler

    def _save(self, output_dir: str | None = None, state_dict=None) -> None:
        """Trainer's save (the model of `save_model` and of every checkpoint), with its files following the umask."""
        super()._save(output_dir, state_dict)
        if self.args.should_save:
            follow_umask(output_dir or self.args.output_dir)

    def _save_rng_state(self, output_dir: str) -> None:
        """The RNG state and, with it, the self-teacher pool: training state a checkpoint needs to resume exactly,
        written before `trainer_state.json` marks the save complete."""
        super()._save_rng_state(output_dir)
        if self.self_teachers is not None and self.args.should_save:
            self.self_teachers.save(output_dir)

    def create_model_card(self, model_name=None, dataset_name=None, tags=None):
        """TRL's card, plus what a reader of an OGER model needs: the teachers, the recipe and the OGER settings.
        Only real Hub ids become Hub links: a local base model or dataset is named as a path."""
        local_dataset = dataset_name if dataset_name and is_local_path(dataset_name) else None
        model_name = model_name or (self.hub_model_id or os.path.basename(os.path.abspath(self.args.output_dir)))
        super().create_model_card(
            model_name=model_name.split("/")[-1], dataset_name=None if local_dataset else dataset_name, tags=tags
        )
        path = os.path.join(self.args.output_dir, "README.md")
        if not self.is_world_process_zero() or not os.path.exists(path):
            return
        with open(path, encoding="utf-8") as f:
            card = f.read()
        card = card_without_fake_links(card, get_config_model_id(self.model.config), local_dataset)
        if not self.hub_model_id:
            card = card.replace('model="None"', f'model="{os.path.abspath(self.args.output_dir)}"')
        grpo = dict(loss_type=self.loss_type, scale_rewards=self.scale_rewards, beta=self.beta)
        card = with_oger_section(card, oger_card_section(self.args, self.teacher_counts, self.recipe, **grpo))
        with open(path, "w", encoding="utf-8") as f:
            f.write(card)

    # --- hook 1: one context for the batch, the sample source out ----------------------------------------------------
    def _generate_and_score_completions(self, inputs: list[dict]) -> dict:
        with open_batch(inputs) as batch:
            output = super()._generate_and_score_completions(inputs)
        output["sample_source"] = torch.tensor(batch.sample_source, dtype=torch.long, device=self.accelerator.device)
        return output

    # --- hook 2: RGPO guidance, divergence and splice ---------------------------------------------------------------
    def _generate(self, prompts: list):
        if self._rollouts_by_trl():  # OGER is off (see __init__): TRL's rows, untouched
            output = GenerationOutput(*super()._generate(prompts))
            if (batch := current_batch()) is not None:
                batch.left_to_trl(len(output.completions))
            return tuple(output)
        batch = current_batch()
        if batch is None:
            raise RuntimeError(
                "OGERTrainer._generate runs inside _generate_and_score_completions, which opens its batch."
            )
        # transformers' own decoding exposes the logits of every step: H_last without an extra forward
        decodes_here = not self.use_vllm and not self.use_transformers_continuous_batching
        recorder = DecodingEntropyRecorder(self.temperature) if decodes_here else None
        states = DecodingStatesRecorder() if decodes_here and self.records_states else None
        with contextlib.ExitStack() as hooks:
            for attached in (recorder, states):
                if attached is not None:
                    hooks.enter_context(attached.attached(self._decoding_model()))
            result = GenerationOutput(*super()._generate(prompts))
        origins = [POLICY_ROW] * len(result.completions)
        guided = set()
        if self.model.training and self.guidance is not None:
            with profiling_context(self, "RGPO.guidance"):
                guided = self.guidance.guide(prompts, batch.rows, result, origins)
        teachers = [self._teachers_of(row) for row in batch.rows]
        with profiling_context(self, "OGER.divergence"):
            divergence = self._divergence(result.completions, teachers)
        all_divergence = self.accelerator.gather(divergence.to(self.accelerator.device)).cpu()
        if self.model.training and self.args.num_offline_per_group > 0:
            with profiling_context(self, "OGER.splice"):
                self._splice(all_divergence, teachers, result, origins, guided)
        batch.prompt_ids, batch.origins = result.prompt_ids, origins
        batch.divergence = divergence.masked_fill(~batch.is_policy, float("nan"))
        batch.entropies = recorder.entropies() if recorder else None
        batch.states = states.stacked() if states else None
        return tuple(result)

    def _rollouts_by_trl(self) -> bool:
        """Whether TRL's tools, environments or `rollout_func` produce the completions (accepted only with OGER off)."""
        return (
            getattr(self, "rollout_func", None) is not None
            or bool(getattr(self, "tools", None))
            or getattr(self, "environment_factories", None) is not None
        )

    def _teachers_of(self, row: dict) -> TeacherSet:
        kept = list(zip(*offline_teachers(row, self.args), strict=True))
        selves = []
        if self.self_teachers is not None and self.model.training:
            known = {text for text, _ in kept}
            selves = [e for e in self.self_teachers.of(row["prompt"]) if e.text not in known]
            kept += [(e.text, SELF_TEACHER) for e in selves]
        return TeacherSet(tuple(t for t, _ in kept), tuple(n for _, n in kept), tuple(e.embedding for e in selves))

    def _update_self_teachers(self, inputs, completions, completion_ids, divergence, is_policy, verifiable) -> None:
        """Offer the batch's correct (verifiable reward > 0), finished (ending with EOS) online completions to the
        pool (collective: every process gathers the same rows and applies the same update)."""
        local = [
            (row["prompt"], completion_text(c), self.finished(ids))
            for row, c, ids in zip(inputs, completions, completion_ids, strict=True)
        ]
        rows = gather_object(local)
        embeddings = self.accelerator.gather(current_batch().online_embeddings.to(self.accelerator.device)).cpu()
        step = self.state.global_step
        prompts, joining = [], []
        for i, (prompt, text, finished) in enumerate(rows):
            if finished and is_policy[i] and verifiable[i] > 0:
                prompts.append(prompt)
                joining.append(SelfCompletion(text, embeddings[i], divergence[i].item(), step))
        self.self_teachers.add(prompts, joining)
        self._metrics["train"]["oger/self_teachers"].append(len(self.self_teachers))

    def _embeddings_of(self, teacher_set: TeacherSet) -> torch.Tensor:
        """`(M, d)`: the dataset teachers' from the cache, then the self-teachers' own, never re-encoded."""
        cached = self.teacher_embeddings.lookup(
            list(teacher_set.texts[: len(teacher_set.texts) - len(teacher_set.self_embeddings)])
        )
        selves = [e.to(cached.dtype).unsqueeze(0) for e in teacher_set.self_embeddings]
        return torch.cat([cached, *selves])

    def _divergence(self, completions: list, teachers: list[TeacherSet]) -> torch.Tensor:
        """D of each local completion against its prompt's teachers (NaN without teachers)."""
        online = self.encoder.encode([completion_text(c) for c in completions])
        per_row = []  # consecutive rows of a group share their teachers: embed each set once
        for i, teacher_set in enumerate(teachers):
            if i > 0 and teacher_set == teachers[i - 1]:
                per_row.append(per_row[-1])
            else:
                per_row.append(self._embeddings_of(teacher_set))
        batch = current_batch()
        batch.online_embeddings, batch.teacher_embeddings = online, per_row
        similarity = mean_teacher_similarity(online, torch.cat(per_row), [len(t.texts) for t in teachers])
        return divergence_from_similarity(similarity)

    def _splice(
        self,
        all_divergence: torch.Tensor,
        teachers: list[TeacherSet],
        result: GenerationOutput,
        origins: list[RowOrigin],
        guided: set[int],
    ):
        """Replace, in every group with teachers, k online completions (never the `guided` rows) by teacher completions.

        The plan of a group depends only on the gathered divergences, its teachers, the gathered guided rows and its
        (seed, step, index) stream, so the processes that share a group agree on it; each process then rewrites only
        the rows it holds.
        """
        n, k = self.num_generations, self.args.num_offline_per_group
        layout = RowLayout(self.accelerator.process_index, len(origins), n)
        spliced_divergence, splices, short_groups = [], Counter(), 0
        for group in layout.groups():
            teacher_set = teachers[layout.first_local_row(group)]
            if not teacher_set.texts:
                continue
            token_ids = {}

            def fits(j: int, texts=teacher_set.texts, token_ids=token_ids) -> bool:
                token_ids[j] = self._teacher_token_ids(texts[j])
                return len(token_ids[j]) <= self.max_completion_length

            rng = group_rng(self.args.seed, self.state.global_step, group)
            divergence = all_divergence[group * n : (group + 1) * n]
            online = torch.tensor([group * n + slot not in guided for slot in range(n)])
            strategy = self.args.replacement_strategy
            plan = plan_group_splice(divergence, len(teacher_set.texts), k, strategy, rng, fits, online)
            short_groups += len(plan) < k and layout.holds_start(group)  # counted once per group
            for slot, j in plan:
                i = layout.to_local(group * n + slot)
                if i is not None:  # otherwise another process holds the row and makes the same replacement
                    replace_completion(result, i, teacher_set.texts[j], token_ids[j])
                    origins[i] = RowOrigin(SampleSource.TEACHER, teacher_set.names[j])
                    splices[teacher_set.names[j]] += 1
                    spliced_divergence.append(divergence[slot].item())
        self._log_splice_metrics(spliced_divergence, splices, short_groups)

    def _teacher_token_ids(self, text: str) -> list[int]:
        """Teacher text as completion ids: no special tokens added, ending with EOS like a terminated completion."""
        return ending_with_eos(self._tokenizer(text, add_special_tokens=False)["input_ids"], self.eos_token_ids)

    def _log_splice_metrics(self, spliced_divergence: list[float], splices: Counter, short_groups: int) -> None:
        device = self.accelerator.device
        # float32 on every process: a process that spliced nothing would otherwise send int64 (a collective mismatch)
        stats = torch.tensor(
            [sum(spliced_divergence), len(spliced_divergence), short_groups], dtype=torch.float32, device=device
        )
        total, count, short = self.accelerator.gather(stats.unsqueeze(0)).sum(0).tolist()
        metrics = self._metrics["train"]
        metrics["oger/divergence/spliced_mean"].append(total / count if count else float("nan"))
        metrics["oger/groups_short_of_teachers"].append(short)
        all_splices = sum((Counter(c) for c in gather_object([dict(splices)])), Counter())
        for name, value in sorted(all_splices.items()):
            metrics[f"oger/splices/{name}"].append(value)

    def _decoding_model(self) -> torch.nn.Module:
        """The module whose forward `generate` calls at every step (under PEFT, the adapted base model)."""
        model = self.accelerator.unwrap_model(self.model)
        return model.get_base_model() if is_peft_model(model) else model

    # --- hook 3: H_last from TRL's forward, log-probs for the shaping term --------------------------------------------
    def _get_per_token_logps_and_entropies(
        self, model, input_ids, attention_mask, logits_to_keep, batch_size=None, compute_entropy=False, **kwargs
    ):
        batch = current_batch()
        # TRL's own no-grad pass of the policy over the batch just generated (vLLM: the importance-sampling pass)
        # gives H_last too when nothing recorded it while decoding; a reference-model pass never does.
        probe = (
            batch is not None
            and batch.oger_applies
            and batch.entropies is None
            and not torch.is_grad_enabled()
            and input_ids.size(0) == len(batch.origins)
            and self._is_trained_policy(model)
        )
        states = ForwardStatesRecorder(logits_to_keep) if probe and self.records_states else None
        with states.attached(self._decoding_model()) if states else contextlib.nullcontext():
            logps, entropies, aux = super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, batch_size, compute_entropy or probe, **kwargs
            )
        if probe:
            batch.entropies = entropies
            batch.states = states.stacked() if states else batch.states
        capture = _LOSS_LOGPS.get()
        if capture is not None:
            capture.append(logps)
        return logps, entropies if compute_entropy else None, aux

    def _is_trained_policy(self, model) -> bool:
        """Whether a forward of `model` is the policy being trained: not TRL's reference model, nor the PEFT model with
        its adapter disabled or switched to TRL's "ref" adapter (how TRL computes the reference under PEFT)."""
        if model is not self.model:
            return False
        unwrapped = self.accelerator.unwrap_model(model)
        if not is_peft_model(unwrapped):
            return True
        layers = [m for m in unwrapped.modules() if isinstance(m, BaseTunerLayer)]
        return unwrapped.active_adapter != "ref" and not any(layer.disable_adapters for layer in layers)

    @profiling_decorator
    def _entropy_forward(self, prompt_ids: list[list[int]], completion_ids: list[list[int]]) -> torch.Tensor:
        """Per-token entropies of the policy over the local rows: one no-grad forward, on every process."""
        device = self.accelerator.device
        pad_id = self._tokenizer.pad_token_id
        prompts = pad([torch.tensor(p) for p in prompt_ids], pad_id, "left", self.pad_to_multiple_of)
        completions = pad([torch.tensor(c) for c in completion_ids], pad_id, "right", self.pad_to_multiple_of)
        masks = [
            pad([torch.ones(len(x), dtype=torch.long) for x in ids], 0, side, self.pad_to_multiple_of)
            for ids, side in ((prompt_ids, "left"), (completion_ids, "right"))
        ]
        batch_size = (
            self.args.per_device_train_batch_size if self.model.training else self.args.per_device_eval_batch_size
        )
        with torch.no_grad(), disable_gradient_checkpointing(self.model, self.args.gradient_checkpointing_kwargs):
            _, entropies, _ = self._get_per_token_logps_and_entropies(
                self.model,
                torch.cat([prompts, completions], dim=1).to(device),
                torch.cat(masks, dim=1).to(device),
                completions.size(1),
                batch_size=batch_size,
                compute_entropy=True,
            )
        return entropies

    # --- hook 4: the exploration reward column ----------------------------------------------------------------------
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        """TRL's reward columns (gathered over processes) plus the exploration reward as the last column, so that it
        gets TRL's weighting, group normalisation and NaN handling."""
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._warn_unscored(rewards)
        batch = current_batch()
        if not batch.oger_applies:
            return self._with_exploration_column(rewards, torch.zeros(len(rewards), device=rewards.device))
        h_last = self.last_token_entropy.of_rows(
            batch.entropies, batch.is_policy, batch.prompt_ids, completion_ids_list
        )
        local = torch.stack([batch.divergence, h_last, batch.is_policy.float()], dim=1).to(rewards.device)
        divergence, h_all, is_policy = self.accelerator.gather(local).unbind(1)
        is_policy = is_policy.bool()
        verifiable = self.verifiable_reward(rewards)
        bonus = exploration_reward(
            self._exploration_bonus(batch, divergence, is_policy, completion_ids_list).to(rewards.device),
            h_all,
            verifiable,
            is_policy,
            self._exploration_coef(),
            self.args.entropy_modulation,
        )
        self._log_reward_metrics(divergence, h_all, is_policy, verifiable, bonus)
        if self.self_teachers is not None and self.model.training:
            self._update_self_teachers(
                inputs, completions, completion_ids_list, divergence.cpu(), is_policy.cpu(), verifiable.cpu()
            )
        self._log_completion_extra("source", [origin.label for origin in batch.origins])
        self._log_completion_extra("divergence", batch.divergence.tolist())
        self._log_completion_extra("entropy_last", h_last.tolist())
        self._log_completion_extra("finished", [self.finished(ids) for ids in completion_ids_list])
        return self._with_exploration_column(rewards, bonus)

    def finished(self, completion_ids: list[int]) -> bool:
        """Whether a completion ended with EOS (TRL keeps the EOS id and decodes without it), rather than being cut at
        `max_completion_length`: H_last of a finished one is the policy's confidence in stopping."""
        return bool(completion_ids) and completion_ids[-1] in self.eos_token_ids

    def _exploration_bonus(self, batch, divergence, is_policy, completion_ids_list) -> torch.Tensor:
        """B of every gathered row from the configured bonus (collective: every process gathers the same inputs)."""
        if self.args.exploration_bonus == "divergence":  # OGER: the divergence, already gathered
            return divergence
        inputs = BonusInputs(self.num_generations, is_policy.cpu(), divergence.cpu())
        if self.records_states:
            inputs = replace(inputs, hidden_states=self._gathered_states(batch, completion_ids_list))
        if self.args.exploration_bonus not in BONUSES:  # a user's function gets the sentence embeddings too
            inputs = replace(inputs, **self._gathered_embeddings(batch))
        return self.exploration_bonus(inputs).float()

    def _gathered_states(self, batch, completion_ids_list) -> torch.Tensor | None:
        """`(B, h)` mean hidden state of every online completion over processes (NaN elsewhere), or None when no
        process recorded them."""
        lengths = torch.tensor([len(ids) for ids in completion_ids_list]).masked_fill(~batch.is_policy, 0)
        recorded = batch.states is not None and batch.states.size(1) >= int(lengths.max())
        if not self.accelerator.gather(torch.tensor([int(recorded)], device=self.accelerator.device)).all():
            return None
        local = mean_completion_state(batch.states, lengths)
        return self.accelerator.gather(local.to(self.accelerator.device)).cpu()

    def _gathered_embeddings(self, batch) -> dict:
        """The sentence embeddings of the online completions (NaN for other rows) and the teachers of every group."""
        online = batch.online_embeddings.float().masked_fill(~batch.is_policy.unsqueeze(1), float("nan"))
        layout = RowLayout(self.accelerator.process_index, len(batch.origins), self.num_generations)
        local_groups = {g: batch.teacher_embeddings[layout.first_local_row(g)].cpu() for g in layout.groups()}
        teachers = {}
        for groups in gather_object([local_groups]):
            teachers.update(groups)
        return dict(
            online_embeddings=self.accelerator.gather(online.to(self.accelerator.device)).cpu(),
            teacher_embeddings=[teachers[g] for g in sorted(teachers)],
        )

    def _exploration_coef(self) -> float:
        """The exploration coefficient at this step (`exploration_coef_schedule`), logged as `oger/exploration_coef`."""
        args = self.args
        coef = scheduled_coef(
            args.exploration_coef,
            args.exploration_coef_final,
            args.exploration_coef_schedule,
            self.state.global_step,
            self.state.max_steps,
        )
        self._metrics["train" if self.model.training else "eval"]["oger/exploration_coef"].append(coef)
        return coef

    def verifiable_reward(self, rewards: torch.Tensor) -> torch.Tensor:
        """R_m of each row of TRL's reward columns (the exploration column, when there is one, excluded)."""
        columns = self.exploration_column
        return verifiable_reward(rewards[:, :columns], self.reward_weights[:columns])

    def _log_reward_metrics(self, divergence, h_last, is_policy, verifiable, bonus) -> None:
        mode = "train" if self.model.training else "eval"
        n = self.num_generations if mode == "train" else self.num_generations_eval
        metrics = self._metrics[mode]
        metrics["oger/divergence/mean"].append(torch.nanmean(divergence[is_policy]).item())
        metrics["oger/entropy_last/mean"].append(torch.nanmean(h_last[is_policy]).item())
        metrics["oger/exploration_reward/mean"].append(torch.nanmean(bonus[is_policy]).item())
        metrics["oger/online_reward/mean"].append(torch.nanmean(verifiable[is_policy]).item())
        metrics["oger/offline_frac"].append((~is_policy).float().mean().item())
        metrics["oger/offline_reward/mean"].append(torch.nanmean(verifiable[~is_policy]).item())
        no_teachers = torch.isnan(divergence).view(-1, n).all(1)  # every online row of the group lacks teachers
        metrics["oger/groups_without_teachers"].append(no_teachers.sum().item())

    def _warn_unscored(self, rewards: torch.Tensor) -> None:
        """Once per function, name a reward function that scored no completion of a batch (it returned None or NaN
        throughout): TRL only warns about single rows, and training on its column would be silently empty."""
        unscored = unscored_reward_funcs(rewards, self.reward_func_names)
        new = [name for name in unscored if name not in self._unscored_warned]
        if new:
            self._unscored_warned.update(new)
            nothing = (
                " No function scored any completion: this batch trains on nothing."
                if len(unscored) == len(self.reward_func_names)
                else ""
            )
            logger.warning(
                f"Reward function(s) {new} returned None or NaN for all {len(rewards)} completions of a batch.{nothing} "
                "Check what they return and the dataset columns they read."
            )

    def _with_exploration_column(self, rewards: torch.Tensor, bonus: torch.Tensor) -> torch.Tensor:
        """TRL's reward columns plus the exploration column (when there is one), logged as TRL logs each of its
        columns (metrics and the completion table) whether or not it can be non-zero."""
        metrics = self._metrics["train" if self.model.training else "eval"]
        metrics[f"rewards/{EXPLORATION_REWARD_NAME}/mean"].append(torch.nanmean(bonus).item())
        metrics[f"rewards/{EXPLORATION_REWARD_NAME}/std"].append(nanstd(bonus).item())
        self._logs["rewards"][EXPLORATION_REWARD_NAME].extend(bonus.tolist())
        if self.exploration_column is None:
            return rewards
        return torch.cat([rewards, bonus.unsqueeze(1)], dim=1)

    # --- hook 5: the loss -------------------------------------------------------------------------------------------
    def _compute_loss(self, model, inputs):
        advantages = inputs["advantages"]
        source = inputs["sample_source"]
        offline = source == SampleSource.TEACHER
        if self.args.guided_loss == "shaped":
            offline = offline | (source == SampleSource.GUIDED)
        offline = offline.unsqueeze(1)  # (B, 1): rows trained with the shaping term instead of TRL's loss
        online_advantages = advantages.masked_fill(offline if advantages.dim() == 2 else offline.squeeze(1), 0.0)
        with self._capture_loss_logps() as captured:
            loss = super()._compute_loss(model, {**inputs, "advantages": online_advantages})
        if len(captured) != 1:
            raise RuntimeError(f"Expected one policy forward in GRPOTrainer._compute_loss, saw {len(captured)}.")
        mask = inputs["completion_mask"]  # no tool mask: tools come only with OGER off, where no row is offline
        per_token = policy_shaping_loss(captured[0], advantages, self.args.off_policy_shaping_gamma) * offline
        training = self.model.training
        shaping = aggregate_like_trl(
            per_token,
            mask,
            self.loss_type,
            max_completion_length=self.max_completion_length,
            num_items_in_batch=inputs["num_items_in_batch"],
            num_processes=self.accelerator.num_processes,
            # set by the training loop only; evaluation does not accumulate
            gradient_accumulation_steps=self.current_gradient_accumulation_steps if training else 1,
            steps_per_generation=self.args.steps_per_generation,
            training=training,
        )
        mode = "train" if training else "eval"
        self._metrics[mode]["oger/shaping_loss"].append(self.accelerator.gather(shaping.detach()).mean().item())
        return loss + shaping

    @staticmethod
    @contextlib.contextmanager
    def _capture_loss_logps() -> Iterator[list[torch.Tensor]]:
        """The per-token log-probs of every policy forward inside the block (TRL's loss runs exactly one)."""
        captured: list[torch.Tensor] = []
        token = _LOSS_LOGPS.set(captured)
        try:
            yield captured
        finally:
            _LOSS_LOGPS.reset(token)


_LOSS_LOGPS: ContextVar[list[torch.Tensor] | None] = ContextVar("oger_loss_logps", default=None)

_UNSUPPORTED_VISION = (
    "OGERTrainer supports text-only models: its last-token entropy pass and teacher splicing are text-only. Pass a "
    "tokenizer as `processing_class` (not a multimodal processor), or train vision-language models with GRPOTrainer."
)


_UNSUPPORTED_INPUTS = {
    "tools": "tool calls interleave non-policy tokens with the completions OGER compares and replaces",
    "rollout_func": "OGER needs TRL's own generation to splice teacher completions after it",
    "environment_factory": "environments turn completions into multi-turn rollouts",
}


def _unsupported(name: str) -> ValueError:
    why = _UNSUPPORTED_INPUTS[name]
    return ValueError(
        f"OGERTrainer does not support `{name}` with OGER on: {why}. Remove `{name}`, or switch OGER off "
        "(`num_offline_per_group=0`, `exploration_coef=0`, `guidance=False`) to train as GRPOTrainer."
    )


def _reject_unsupported_inputs(tools, rollout_func, environment_factory) -> None:
    for name, value in (
        ("tools", tools),
        ("rollout_func", rollout_func),
        ("environment_factory", environment_factory),
    ):
        if value is not None:
            raise _unsupported(name)


def _used_teachers(summary, args: OGERConfig) -> dict[str, int]:
    """Completions per teacher that training will use; `args.teachers` must name teachers present in the data."""
    counts = summary.teacher_counts if summary is not None else {}
    if not args.teachers or summary is None:
        return counts
    missing = sorted(set(args.teachers) - set(counts))
    if missing:
        raise ValueError(
            f"`teachers` names {missing}, absent from train_dataset's '{args.teacher_sources_column}' column "
            f"(present: {sorted(counts)}). Fix the names or the dataset."
        )
    return {name: count for name, count in counts.items() if name in args.teachers}


def _named_datasets(train_dataset, eval_dataset) -> list[tuple[str, object]]:
    named = [("train_dataset", train_dataset)] if train_dataset is not None else []
    if isinstance(eval_dataset, dict):
        named += [(f"eval_dataset['{key}']", dataset) for key, dataset in eval_dataset.items()]
    elif eval_dataset is not None:
        named.append(("eval_dataset", eval_dataset))
    return named
