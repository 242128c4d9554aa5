"""What defines a demo or study run, without importing torch: the methods and the shared settings."""

from dataclasses import dataclass

# The fields that make each method; everything else is shared. The OGERConfig defaults are OGER's.
METHODS: dict[str, dict] = {
    "OGER": {},
    "GRPO": dict(num_offline_per_group=0, exploration_coef=0.0),
    "LUFFY": dict(replacement_strategy="random", exploration_coef=0.0),
    "OGER g=1": dict(entropy_modulation="none"),
    "OGER no bonus": dict(exploration_coef=0.0),
}
METHOD_DESCRIPTIONS = {
    "OGER": "the most teacher-like completion of each group replaced by a teacher one, exploration reward",
    "GRPO": "the same trainer with splicing and the exploration reward off",
    "LUFFY": "a random completion of each group replaced by a teacher one, no exploration reward",
    "OGER g=1": "OGER without entropy modulation of the exploration reward (g(H_last) = 1)",
    "OGER no bonus": "OGER's similarity splice without the exploration reward",
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

    @property
    def eval_steps(self) -> list[int]:
        return sorted({0, *range(self.eval_every, self.steps + 1, self.eval_every), self.steps})
