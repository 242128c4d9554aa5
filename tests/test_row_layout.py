"""Rows of a generation batch across processes: for every world size from 1 to 8 and every split of groups (groups
within a process, groups spanning two or more processes), each global row is held by exactly one process, each
process iterates exactly the groups it holds rows of, and exactly one process holds a group's first row."""

import pytest

from oger_trl.row_layout import RowLayout

SHAPES = [(world, local, n) for world in range(1, 9) for local in (1, 2, 3, 4, 6, 8) for n in (1, 2, 3, 4, 8)]


def layouts(world: int, local: int, n: int) -> list[RowLayout]:
    return [RowLayout(p, local, n) for p in range(world)]


@pytest.mark.parametrize(("world", "local", "n"), [s for s in SHAPES if (s[0] * s[1]) % s[2] == 0])
def test_every_row_and_group_has_its_holders(world, local, n):
    total = world * local
    processes = layouts(world, local, n)
    for row in range(total):  # each global row: one holder, and back to the same global row
        holders = [(p, layout.to_local(row)) for p, layout in enumerate(processes) if layout.to_local(row) is not None]
        assert len(holders) == 1
        p, local_row = holders[0]
        assert processes[p].to_global(local_row) == row
        assert processes[p].group_and_slot(local_row) == (row // n, row % n)
    for layout in processes:  # the groups a process visits are exactly those of its rows
        assert set(layout.groups()) == {layout.group_and_slot(i)[0] for i in range(local)}
        for group in layout.groups():
            first = layout.first_local_row(group)
            assert 0 <= first < local and layout.group_and_slot(first)[0] == group
            assert first == 0 or layout.group_and_slot(first)[1] == 0  # the group's first local row
    for group in range(total // n):
        assert sum(layout.holds_start(group) for layout in processes) == 1


def test_a_group_spanning_two_processes():
    # 2 processes x 6 rows, groups of 4: group 1 is rows 4-7, split 2 + 2
    zero, one = RowLayout(0, 6, 4), RowLayout(1, 6, 4)
    assert list(zero.groups()) == [0, 1] and list(one.groups()) == [1, 2]
    assert (zero.first_local_row(1), one.first_local_row(1)) == (4, 0)
    assert zero.holds_start(1) and not one.holds_start(1)
    assert [zero.to_local(r) for r in (4, 5, 6, 7)] == [4, 5, None, None]
    assert [one.to_local(r) for r in (4, 5, 6, 7)] == [None, None, 0, 1]
