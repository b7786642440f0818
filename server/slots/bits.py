"""Bitsets over cell indices: bit i of an int is cell i (or the window starting at cell i)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import compress

_TO_ASCII = bytes.maketrans(b"\x00\x01", b"01")
_FROM_ASCII = bytes.maketrans(b"01", b"\x00\x01")


def from_flags(flags: bytes | bytearray) -> int:
    """Return the mask whose bit i is set where ``flags[i]`` is 1 (flags are 0 or 1)."""
    if not flags:
        return 0
    # int(text, 2) parses in C: much faster than OR-ing one shifted bit per cell.
    return int(flags[::-1].translate(_TO_ASCII), 2)


def flags(mask: int, size: int) -> bytes:
    """Return bits 0 .. size-1 of ``mask`` as bytes of 0 and 1 (byte i is bit i)."""
    text = format(mask, f"0{size}b")[: -size - 1 : -1]
    return text.encode().translate(_FROM_ASCII)


def positions(mask: int, size: int) -> Iterator[int]:
    """Yield the set bits of ``mask`` below ``size``, lowest first."""
    if mask <= 0:
        return iter(())
    return compress(range(size), flags(mask, size))


def runs(mask: int, length: int) -> int:
    """Return the bits i where bits i .. i+length-1 of ``mask`` are all set (all bits if 0)."""
    result, done, block, size = -1, 0, mask, 1
    # Blocks of 1, 2, 4, ... bits combined by length's binary digits: log2(length) ANDs.
    while length:
        if length & 1:
            result &= block >> done
            done += size
        length >>= 1
        if length:
            block &= block >> size
            size *= 2
    return result


class Counts:
    """Per-position counters kept bit-sliced: slice j holds bit j of every position's count."""

    def __init__(self) -> None:
        self.slices: list[int] = []

    def add(self, mask: int) -> None:
        """Add one to the count of every position set in ``mask`` (a ripple-carry add)."""
        carry = mask
        for j, bits in enumerate(self.slices):
            if not carry:
                return
            self.slices[j] = bits ^ carry
            carry &= bits
        if carry:
            self.slices.append(carry)

    def at_least(self, threshold: int, universe: int) -> int:
        """Return the positions of ``universe`` whose count is at least ``threshold``."""
        above, equal = 0, universe
        for j in reversed(range(max(len(self.slices), threshold.bit_length()))):
            bits = self.slices[j] if j < len(self.slices) else 0
            if threshold >> j & 1:
                equal &= bits
            else:
                above |= equal & bits
                equal &= ~bits
        return above | equal

    def values(self, size: int) -> list[int]:
        """Return every position's count, positions 0 .. size-1."""
        totals = [0] * size
        for j, bits in enumerate(self.slices):
            weight = 1 << j
            for i in positions(bits, size):
                totals[i] += weight
        return totals
