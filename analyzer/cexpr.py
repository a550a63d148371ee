"""C integer literals as the kernel writes them (`0x1fUL`, `010`, `42u`, `0b11`)."""

from __future__ import annotations


def parse_int_literal(text: str) -> int | None:
    t = text.rstrip("uUlL")
    try:
        if t.lower().startswith("0x"):
            return int(t, 16)
        if t.lower().startswith("0b"):
            return int(t[2:], 2)
        if len(t) > 1 and t.startswith("0"):
            return int(t, 8)
        return int(t)
    except ValueError:
        return None
