"""Path conditions: boolean formulas in disjunctive normal form over abstract values.

A condition is a frozenset of conjunctions; a conjunction is a frozenset of literals
(atom, holds). TRUE is {{}} and FALSE is {}. Atoms are values (values.py) that are
not themselves &&, || or !: those are split into the formula. A literal whose atom
folds to a constant disappears, so substituting constant arguments into a callee's
conditions decides them (`reset()` -> `compat_reset(vdev, 0)` makes
`flags & VDPA_RESET_F_CLEAN_MAP` false).

Formulas are kept small: past MAX_TERMS conjunctions a condition is replaced by one
unknown literal ("may hold"), which over-approximates where an effect can happen.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from analyzer.semantics import values as V
from analyzer.semantics.values import Value

Lit = tuple[Value, bool]
Conj = frozenset[Lit]
Cond = frozenset[Conj]

TRUE: Cond = frozenset({frozenset()})
FALSE: Cond = frozenset()
MAX_TERMS = 24
_TOO_BIG: Value = V.unknown("condition too complex to keep")


def truth(c: Cond) -> bool | None:
    if c == TRUE or any(not conj for conj in c):
        return True
    if not c:
        return False
    return None


def _atom_truth(atom: Value) -> bool | None:
    return V.truth(atom, truth)


def of_value(v: Value, holds: bool = True) -> Cond:
    """The condition that v is non-zero (holds) or zero (not holds)."""
    v = V.fold(v, truth)
    kind = v[0]
    if kind == "int":
        return TRUE if (v[1] != 0) == holds else FALSE
    if kind == "C":
        return v[1] if holds else negate(v[1])
    if kind == "un" and v[1] == "!":
        return of_value(v[2], not holds)
    if kind == "bin":
        op, a, b = v[1], v[2], v[3]
        if op == "&&":
            return and_(of_value(a), of_value(b)) if holds else or_(of_value(a, False), of_value(b, False))
        if op == "||":
            return or_(of_value(a), of_value(b)) if holds else and_(of_value(a, False), of_value(b, False))
        if op == "!=" and b == V.ZERO:
            return of_value(a, holds)
        if op == "==" and b == V.ZERO:
            return of_value(a, not holds)
    if kind == "cond":
        # Both sides of the selector are computed on their own: a selector no caller can
        # decide is "may" either way, so either arm may be the value.
        yes, no = of_value(v[1]), of_value(v[1], False)
        return or_(and_(yes, of_value(v[2], holds)), and_(no, of_value(v[3], holds)))
    t = _atom_truth(v)
    if t is not None:
        return TRUE if t == holds else FALSE
    if not decidable(v):
        return TRUE  # no call site can ever decide it: the effect may happen either way
    return frozenset({frozenset({(v, holds)})})


_OPAQUE = frozenset({"mem", "idx", "deref", "callv", "iter", "cof", "addr", "unk", "C"})


def decidable(v: Value) -> bool:
    """Whether an atom reads a parameter as a scalar, so that a caller's constant argument
    can decide it (`flags & F` can be; `d->force` or a call's result never can)."""
    stack = [v]
    while stack:
        e = stack.pop()
        kind = e[0]
        if kind == "param":
            return True
        if kind in _OPAQUE:
            continue
        stack.extend(V.parts(e))
    return False


def literals(v: Value, holds: bool = True) -> frozenset[Lit]:
    """The literals that hold when v is non-zero (holds) or zero: for trace notes, including
    the ones no caller can decide. Empty unless they form one conjunction."""
    v = V.fold(v, truth)
    kind = v[0]
    if kind == "int" or kind == "C":
        return frozenset()
    if kind == "un" and v[1] == "!":
        return literals(v[2], not holds)
    if kind == "bin" and v[1] == "&&" and holds:
        return literals(v[2]) | literals(v[3])
    if kind == "bin" and v[1] == "||" and not holds:
        return literals(v[2], False) | literals(v[3], False)
    if kind == "bin" and v[1] in ("&&", "||"):
        return frozenset({(v, holds)})  # shown whole: "(flags & 1) || d->force"
    if kind == "bin" and v[1] == "!=" and v[3] == V.ZERO:
        return literals(v[2], holds)
    if kind == "bin" and v[1] == "==" and v[3] == V.ZERO:
        return literals(v[2], not holds)
    return frozenset({(v, holds)})


def show_literals(lits: frozenset[Lit], names: Mapping[int, str] | None = None) -> tuple[str, ...]:
    return tuple(V.show(a, names) if h else f"!({V.show(a, names)})" for a, h in sorted(lits, key=repr))


def _clean(conj: Conj) -> Conj | None:
    """None when the conjunction holds a literal and its negation."""
    seen: dict[Value, bool] = {}
    for atom, holds in conj:
        if seen.get(atom, holds) != holds:
            return None
        seen[atom] = holds
    return conj


def _simplify(conjs: set[Conj]) -> Cond:
    if len(conjs) <= 1:
        return frozenset(conjs)
    changed = True
    while changed:
        changed = False
        # absorption: a | (a & b) == a
        keep: list[Conj] = []
        for c in sorted(conjs, key=len):
            if not any(k <= c for k in keep):
                keep.append(c)
        changed = len(keep) != len(conjs)
        conjs = set(keep)
        # resolution: (a & x) | (a & !x) == a
        for c in list(conjs):
            if c not in conjs:
                continue
            for lit in c:
                rest = c - {lit}
                twin = rest | {(lit[0], not lit[1])}
                if twin in conjs:
                    conjs.discard(c)
                    conjs.discard(twin)
                    conjs.add(rest)
                    changed = True
                    break
    if len(conjs) > MAX_TERMS:
        return frozenset({frozenset({(_TOO_BIG, True)})})
    return frozenset(conjs)


def and_(a: Cond, b: Cond) -> Cond:
    if a == TRUE:
        return b
    if b == TRUE:
        return a
    if not a or not b:
        return FALSE
    if a == b:
        return a
    if len(a) == 1 and len(b) == 1:
        (x,), (y,) = a, b
        c = _clean(x | y)
        return frozenset({c}) if c is not None else FALSE
    out: set[Conj] = set()
    for x in a:
        for y in b:
            c = _clean(x | y)
            if c is not None:
                out.add(c)
    return _simplify(out)


def or_(a: Cond, b: Cond) -> Cond:
    if a == TRUE or b == TRUE:
        return TRUE
    if not a:
        return b
    if not b:
        return a
    return _simplify(set(a) | set(b))


def negate(c: Cond) -> Cond:
    out = TRUE
    for conj in c:
        clause = FALSE
        for atom, holds in conj:
            clause = or_(clause, frozenset({frozenset({(atom, not holds)})}))
        out = and_(out, clause)
    return out


def substitute(c: Cond, args: tuple[Value, ...]) -> Cond:
    """The condition with the callee's parameters replaced by a call's arguments."""
    if c == TRUE or not c:
        return c
    key = (c, args)
    hit = _SUBST_CACHE.get(key)
    if hit is not None:
        return hit
    out = _substitute(c, args)
    if len(_SUBST_CACHE) > 200_000:
        _SUBST_CACHE.clear()
    _SUBST_CACHE[key] = out
    return out


_SUBST_CACHE: dict[tuple[Cond, tuple[Value, ...]], Cond] = {}


def _substitute(c: Cond, args: tuple[Value, ...]) -> Cond:
    out = FALSE
    for conj in c:
        term = TRUE
        for atom, holds in conj:
            term = and_(
                term, of_value(V.substitute(atom, args, lambda inner: substitute(inner, args)), holds)
            )
            if not term:
                break
        out = or_(out, term)
    return out


def atoms(c: Cond) -> set[Value]:
    return {atom for conj in c for atom, _ in conj}


def show(c: Cond, names: Mapping[int, str] | None = None) -> str:
    if c == TRUE:
        return "always"
    if not c:
        return "never"
    parts = []
    for conj in sorted(c, key=lambda k: sorted(repr(x) for x in k)):
        lits = [
            V.show(atom, names) if holds else f"!({V.show(atom, names)})"
            for atom, holds in sorted(conj, key=repr)
        ]
        parts.append(" && ".join(lits) if lits else "always")
    return " || ".join(f"({p})" if len(parts) > 1 and " && " in p else p for p in parts)


def literals_text(c: Cond, names: Mapping[int, str] | None = None) -> tuple[str, ...]:
    """The literals of a one-conjunction condition, as text (for trace notes)."""
    if truth(c) is not None:
        return ()
    if len(c) == 1:
        (conj,) = tuple(c)
        return tuple(V.show(a, names) if h else f"!({V.show(a, names)})" for a, h in sorted(conj, key=repr))
    return (show(c, names),)


def as_value(c: Cond) -> Value:
    t = truth(c)
    if t is not None:
        return V.const(int(t))
    return ("C", c)


def shape(c: Any) -> str:  # pragma: no cover - debugging aid
    return show(c)
