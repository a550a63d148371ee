"""C expressions as small immutable trees, and their three-valued evaluation.

A guard or an argument is kept as an `Expr` (nested tuples, hashable and
cheap to cache). `evaluate` answers an int when the value is known under the
constants given, and None when it is not; `&&`, `||`, `&` and `*` short-circuit
on a known zero so that `(flags & CLEAN) && unknown_macro(x)` is known false
once `flags` is known to be 0 (SPEC §3).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Union

Expr = tuple[Union[str, int, "Expr"], ...]

UNKNOWN: Expr = ("?",)


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


def names_in(expr: Expr) -> set[str]:
    """Identifiers an expression reads (without descending into call names)."""
    out: set[str] = set()
    stack = [expr]
    while stack:
        e = stack.pop()
        if e[0] == "id":
            out.add(str(e[1]))
        for part in e[1:]:
            if isinstance(part, tuple):
                stack.append(part)
    return out


_BINARY: dict[str, Callable[[int, int], int | None]] = {
    "|": lambda a, b: a | b,
    "^": lambda a, b: a ^ b,
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "<<": lambda a, b: a << b if 0 <= b < 128 else None,
    ">>": lambda a, b: a >> b if 0 <= b < 128 else None,
    "==": lambda a, b: int(a == b),
    "!=": lambda a, b: int(a != b),
    "<": lambda a, b: int(a < b),
    ">": lambda a, b: int(a > b),
    "<=": lambda a, b: int(a <= b),
    ">=": lambda a, b: int(a >= b),
    "/": lambda a, b: a // b if b else None,
    "%": lambda a, b: a % b if b else None,
}


def evaluate(expr: Expr, env: Mapping[str, int]) -> int | None:
    """Value of expr with the identifiers in env known, else None."""
    kind = expr[0]
    if kind == "int":
        return int(expr[1])  # type: ignore[arg-type]
    if kind == "id":
        return env.get(str(expr[1]))
    if kind == "un":
        inner = evaluate(expr[2], env)  # type: ignore[arg-type]
        if inner is None:
            return None
        op = expr[1]
        if op == "!":
            return int(not inner)
        if op == "-":
            return -inner
        if op == "~":
            return ~inner
        return inner
    if kind == "cond":
        c = evaluate(expr[1], env)  # type: ignore[arg-type]
        if c is None:
            return None
        return evaluate(expr[2] if c else expr[3], env)  # type: ignore[arg-type]
    if kind == "bin":
        return _evaluate_binary(str(expr[1]), expr[2], expr[3], env)  # type: ignore[arg-type]
    return None


def _evaluate_binary(op: str, left: Expr, right: Expr, env: Mapping[str, int]) -> int | None:
    a = evaluate(left, env)
    if op == "&&":
        if a == 0:
            return 0
        b = evaluate(right, env)
        if b == 0:
            return 0
        return 1 if a is not None and b is not None else None
    if op == "||":
        if a is not None and a != 0:
            return 1
        b = evaluate(right, env)
        if b is not None and b != 0:
            return 1
        return 0 if a == 0 and b == 0 else None
    b = evaluate(right, env)
    if op in ("&", "*") and (a == 0 or b == 0):
        return 0
    if a is None or b is None:
        return None
    if op == "&":
        return a & b
    if op == "*":
        return a * b
    fn = _BINARY.get(op)
    return fn(a, b) if fn else None
