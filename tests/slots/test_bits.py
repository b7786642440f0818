"""The bitset helpers against their definitions, exhaustively over small masks."""

from __future__ import annotations

from itertools import product

from server.slots.bits import Counts, flags, from_flags, positions, runs


def test_runs_finds_every_start_of_a_run_of_set_bits_of_every_length():
    for mask, length in product(range(1 << 9), range(1, 11)):
        expected = sum(1 << i for i in range(9) if all(mask >> (i + j) & 1 for j in range(length)))
        assert runs(mask, length) == expected, (bin(mask), length)
    assert runs(0b101, 0) == -1


def test_flags_positions_and_from_flags_agree():
    for mask in range(1 << 8):
        assert list(flags(mask, 8)) == [mask >> i & 1 for i in range(8)]
        assert list(positions(mask, 8)) == [i for i in range(8) if mask >> i & 1]
        assert from_flags(flags(mask, 8)) == mask
    assert list(positions(0b1_0000_0001, 4)) == [0]  # bits beyond the size are not read
    assert from_flags(b"") == 0


def test_counts_count_per_position_and_compare_with_a_threshold():
    masks = [0b1011, 0b0011, 0b1110, 0b0001, 0b1111, 0b0001, 0b0001]
    counts = Counts()
    for mask in masks:
        counts.add(mask)
    totals = [sum(mask >> i & 1 for mask in masks) for i in range(4)]

    assert counts.values(4) == totals == [6, 4, 2, 3]
    for threshold in range(9):
        expected = sum(1 << i for i in range(4) if totals[i] >= threshold)
        assert counts.at_least(threshold, 0b1111) == expected, threshold
    assert counts.at_least(3, 0b0101) == 0b0001  # only positions of the universe
    assert counts.at_least(2, 0b0101) == 0b0101
