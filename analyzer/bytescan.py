"""Scanning C source bytes with patterns that begin with a literal.

Python's regex engine skips to a literal prefix fast; a pattern that begins with `\\b`, `^`
or a character class is tried at every byte instead, about 20 ns a byte: the kernel's
4,000-line files made such scans a sixth of a run's instructions. So patterns here begin
with their first literal byte, and what used to come before it is checked on the match.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

WORD = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def word_starts(pattern: re.Pattern[bytes], data: bytes) -> Iterator[re.Match[bytes]]:
    """pattern's matches that begin a word, as a leading `\\b` would keep them (a rejected
    candidate does not hide a match that starts inside it)."""
    pos = 0
    while (m := pattern.search(data, pos)) is not None:
        at = m.start()
        if at and data[at - 1] in WORD:
            pos = at + 1
            continue
        yield m
        pos = max(m.end(), at + 1)


def line_starts(pattern: re.Pattern[bytes], data: bytes) -> Iterator[re.Match[bytes]]:
    """pattern's matches that only blanks (spaces, tabs) precede on their line, as a leading
    `^[ \\t]*` under re.MULTILINE would find them; the match starts after the blanks."""
    pos = 0
    while (m := pattern.search(data, pos)) is not None:
        at = m.start()
        if data[data.rfind(b"\n", 0, at) + 1 : at].strip(b" \t"):
            pos = at + 1
            continue
        yield m
        pos = max(m.end(), at + 1)


def indented_line_start(data: bytes, at: int) -> bool:
    """Whether the word at `at` is the first on its line, after at least one blank."""
    head = data[data.rfind(b"\n", 0, at) + 1 : at]
    return bool(head) and not head.strip(b" \t")


def whole_words(data: bytes, word: bytes) -> Iterator[int]:
    """Offsets of word where it is a whole word (an identifier, not part of one)."""
    at = data.find(word)
    while at != -1:
        end = at + len(word)
        if (not at or data[at - 1] not in WORD) and (end == len(data) or data[end] not in WORD):
            yield at
        at = data.find(word, at + 1)
