"""Pure: where the rows of a generation batch live across processes.

TRL gathers a generation batch over processes in order: process p holds the `num_local` consecutive global rows from
p * num_local, and every `num_generations` consecutive global rows form a group. When `num_local` is not a multiple of
`num_generations`, a group spans processes: each process decides for the whole group from gathered data and rewrites
only the rows it holds. This is the one place that maps between the two numberings.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class RowLayout:
    process_index: int
    num_local: int
    num_generations: int

    @property
    def first(self) -> int:
        """Global index of this process's first row."""
        return self.process_index * self.num_local

    def to_global(self, local_row: int) -> int:
        return self.first + local_row

    def to_local(self, global_row: int) -> int | None:
        """The local index of a global row, or None when another process holds it."""
        local_row = global_row - self.first
        return local_row if 0 <= local_row < self.num_local else None

    def group_and_slot(self, local_row: int) -> tuple[int, int]:
        """(group, position in the group) of a local row."""
        return divmod(self.to_global(local_row), self.num_generations)

    def groups(self) -> range:
        """The groups with at least one row on this process."""
        return range(self.first // self.num_generations, (self.first + self.num_local - 1) // self.num_generations + 1)

    def first_local_row(self, group: int) -> int:
        """The first row of `group` held here (rows of a group share the prompt and its teachers)."""
        return max(group * self.num_generations - self.first, 0)

    def holds_start(self, group: int) -> bool:
        """Whether this process holds the group's first row: exactly one process does, so it alone counts the group."""
        return self.to_local(group * self.num_generations) is not None
