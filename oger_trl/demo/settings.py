"""What defines a demo or study run, without importing torch: the methods and the shared settings."""

from dataclasses import dataclass

# The fields that make each method; everything else is shared. The OGERConfig defaults are OGER's.
METHODS: dict[str, dict] = {
    "OGER": {},
    "GRPO": dict(num_offline_per_group=0, exploration_coef=0.0),
    "LUFFY": dict(replacement_strategy="random", exploration_coef=0.0),
    "OGER g=1": dict(entropy_modulation="none"),
    "OGER no bonus": dict(exploration_coef=0.0),
    "OGER representation": dict(exploration_bonus="representation"),
    "OGER self-teachers": dict(self_teachers=2),
    "OGER cosine coef": dict(exploration_coef_schedule="cosine"),
}
METHOD_DESCRIPTIONS = {
    "OGER": "the most teacher-like completion of each group replaced by a teacher one, exploration reward",
    "GRPO": "the same trainer with splicing and the exploration reward off",
    "LUFFY": "a random completion of each group replaced by a teacher one, no exploration reward",
    "OGER g=1": "OGER without entropy modulation of the exploration reward (g(H_last) = 1)",
    "OGER no bonus": "OGER's similarity splice without the exploration reward",
    "OGER representation": "OGER with the representation bonus (hidden-state novelty in the group) instead of D",
    "OGER self-teachers": "OGER with up to 2 correct earlier answers per prompt joining its teachers",
    "OGER cosine coef": "OGER with the exploration coefficient decayed from 1 to 0 by a cosine",
}


@dataclass(frozen=True)
class RunSettings:
    """What the runs of one comparison share."""

    steps: int = 20
    prompts_per_step: int = 2
    num_generations: int = 4
    completion_length: int = 32
    learning_rate: float = 5e-5
    temperature: float = 1.0
    eval_every: int = 5
    encoder_max_length: int = 64
    use_vllm: bool = False  # generate with TRL's colocated vLLM engine instead of transformers

    @property
    def eval_steps(self) -> list[int]:
        return sorted({0, *range(self.eval_every, self.steps + 1, self.eval_every), self.steps})
