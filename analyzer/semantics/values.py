"""Abstract values: small immutable trees over a function's parameters.

A value is a tuple whose first item names its kind (hashable, cheap to cache and
to substitute):

    ("int", v)              a constant (Python int; C widths are applied by casts and
                            where a primitive takes a u64)
    ("param", i)            the function's i-th parameter
    ("id", name)            an identifier the analysis has no value for (a global, a macro)
    ("unk", why)            nothing is known; `why` says where it came from
    ("mem", base, field)    base->field or base.field (an access path step)
    ("idx", base, index)    base[index]
    ("addr", e) ("deref", e)
    ("cof", e, type, m)     container_of(e, type, m): the object e is member m of
    ("un", op, e) ("bin", op, a, b) ("cond", c, a, b) ("cast", type, e)
    ("callv", name, args)   what an unfollowed call returned
    ("iter", obj, lo, hi)   an entry of an IOTLB iteration over [lo, hi] (itree_first/next)
    ("fresh", allocator)    an object allocated on this path (it holds no earlier mapping)
    ("C", cond)             a path condition used as a value (see conds.py)

Unknown is a value, not an absence: it carries its reason to the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

Value = tuple[Any, ...]

MASK64 = (1 << 64) - 1
ALL_ONES = MASK64

# C types whose casts fix a width (LP64, as the kernel builds on 64-bit targets).
_WIDTHS = {
    "u64": 64,
    "__u64": 64,
    "uint64_t": 64,
    "unsigned long long": 64,
    "unsigned long": 64,
    "long long": 64,
    "long": 64,
    "s64": 64,
    "dma_addr_t": 64,
    "phys_addr_t": 64,
    "u32": 32,
    "__u32": 32,
    "uint32_t": 32,
    "unsigned int": 32,
    "unsigned": 32,
    "int": 32,
    "u16": 16,
    "u8": 8,
    "bool": 1,
}


def const(v: int) -> Value:
    return ("int", v)


def unknown(why: str) -> Value:
    return ("unk", why)


ZERO = const(0)
ONE = const(1)


def is_const(v: Value) -> bool:
    return bool(v[0] == "int")


def width_of(type_text: str) -> int | None:
    return _WIDTHS.get(" ".join(type_text.replace("const", " ").split()))


# -- substitution ------------------------------------------------------------------------


def substitute(v: Value, args: tuple[Value, ...], cond_subst: Callable[[Any], Any] | None = None) -> Value:
    """v with ("param", i) replaced by args[i] (a missing argument becomes unknown)."""
    kind = v[0]
    if kind == "param":
        i = v[1]
        return args[i] if i < len(args) else unknown(f"argument {i + 1} not passed")
    if kind in ("int", "id", "unk"):
        return v
    if kind == "C":
        return ("C", cond_subst(v[1])) if cond_subst is not None else v
    if kind == "callv":
        return ("callv", v[1], tuple(substitute(a, args, cond_subst) for a in v[2]))
    out: list[Any] = [kind]
    for part in v[1:]:
        out.append(substitute(part, args, cond_subst) if isinstance(part, tuple) else part)
    return tuple(out)


def parts(e: Value) -> Iterator[Value]:
    """The values directly inside a value (a call result's arguments are not among them:
    `arguments` says so where they matter)."""
    return (p for p in e[1:] if isinstance(p, tuple) and p and isinstance(p[0], str))


def _with_arguments(e: Value) -> Iterator[Value]:
    yield from parts(e)
    if e[0] == "callv":
        yield from e[2]


def params_in(v: Value) -> set[int]:
    """The parameters a value reads, a call result's arguments included."""
    out: set[int] = set()
    stack = [v]
    while stack:
        e = stack.pop()
        if e[0] == "param":
            out.add(e[1])
            continue
        stack.extend(_with_arguments(e))
    return out


def mentions_param(v: Value) -> bool:
    return bool(params_in(v))


def size(v: Value, limit: int = 64) -> int:
    """How many values v holds (itself included), counted up to just past limit. parts()
    inlined: callers check every value they build, and the generator was a tenth of it."""
    n = 0
    stack = [v]
    push, pop = stack.append, stack.pop
    while stack and n <= limit:
        e = pop()
        n += 1
        for p in e[1:]:
            if isinstance(p, tuple) and p and isinstance(p[0], str):
                push(p)
    return n


# -- folding ------------------------------------------------------------------------------


def possible_ones(v: Value) -> int | None:
    """Bits that may be set in v (None: any). Bit-level facts: `f & ~F` never carries F."""
    kind = v[0]
    if kind == "int":
        return int(v[1]) & MASK64
    if kind == "bin":
        op, a, b = v[1], v[2], v[3]
        pa, pb = possible_ones(a), possible_ones(b)
        if op == "&":
            if pa is None:
                return pb
            if pb is None:
                return pa
            return pa & pb
        if op in ("|", "^") and pa is not None and pb is not None:
            return pa | pb
        if op in ("==", "!=", "<", ">", "<=", ">=", "&&", "||"):
            return 1
        return None
    if kind == "un" and v[1] == "!":
        return 1
    if kind == "cond":
        pa, pb = possible_ones(v[2]), possible_ones(v[3])
        return None if pa is None or pb is None else pa | pb
    return None


def known_ones(v: Value) -> int:
    """Bits certainly set in v: `flags | F` always carries F."""
    kind = v[0]
    if kind == "int":
        return int(v[1]) & MASK64
    if kind == "bin":
        op = v[1]
        if op == "|":
            return known_ones(v[2]) | known_ones(v[3])
        if op == "&":
            return known_ones(v[2]) & known_ones(v[3])
    return 0


_ARITH: dict[str, Callable[[int, int], int | None]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "|": lambda a, b: a | b,
    "&": lambda a, b: a & b,
    "^": lambda a, b: a ^ b,
    "<<": lambda a, b: a << b if 0 <= b < 128 else None,
    ">>": lambda a, b: a >> b if 0 <= b < 128 else None,
    "/": lambda a, b: int(a / b) if b else None,
    "%": lambda a, b: a % b if b else None,
    "==": lambda a, b: int(a == b),
    "!=": lambda a, b: int(a != b),
    "<": lambda a, b: int(a < b),
    ">": lambda a, b: int(a > b),
    "<=": lambda a, b: int(a <= b),
    ">=": lambda a, b: int(a >= b),
}


def stable(v: Value) -> bool:
    """Whether two equal trees denote the same run-time value (no unknowns, no call results)."""
    stack = [v]
    while stack:
        e = stack.pop()
        if e[0] in ("unk", "callv", "C", "fresh"):
            return False
        stack.extend(parts(e))
    return True


_LEAVES = frozenset(("int", "param", "id", "unk", "callv", "C", "iter", "fresh"))
# fold() is a pure function of its arguments, and the summaries fold the same values over
# and over (each resolved value again at every level above it): remembered, by value.
_FOLDED: dict[tuple[Value, object], Value] = {}
_FOLDED_MAX = 1 << 16


def fold(v: Value, truth_of_cond: Callable[[Any], bool | None] | None = None) -> Value:
    """Constant-fold v as far as it goes; what is not known stays symbolic."""
    if v[0] in _LEAVES:
        return v
    key = (v, truth_of_cond)
    try:
        return _FOLDED[key]
    except KeyError:
        pass
    except TypeError:  # a part that is not hashable: fold it every time
        return _fold(v, truth_of_cond)
    out = _fold(v, truth_of_cond)
    if len(_FOLDED) >= _FOLDED_MAX:
        _FOLDED.clear()
    _FOLDED[key] = out
    return out


def _fold(v: Value, truth_of_cond: Callable[[Any], bool | None] | None) -> Value:
    kind = v[0]
    if kind == "cast":
        inner = fold(v[2], truth_of_cond)
        bits = width_of(v[1])
        if inner[0] == "int" and bits is not None:
            return const(inner[1] & ((1 << bits) - 1) if bits > 1 else int(bool(inner[1])))
        return inner
    if kind == "un":
        inner = fold(v[2], truth_of_cond)
        if inner[0] == "int":
            x = int(inner[1])
            return const({"!": int(not x), "-": -x, "~": ~x, "+": x}.get(v[1], x))
        if v[1] == "!" and inner[0] == "un" and inner[1] == "!":
            return ("bin", "!=", inner[2], ZERO)
        return ("un", v[1], inner)
    if kind == "cond":
        c = fold(v[1], truth_of_cond)
        t = _truth_folded(c, truth_of_cond)
        if t is not None:
            return fold(v[2] if t else v[3], truth_of_cond)
        a, b = fold(v[2], truth_of_cond), fold(v[3], truth_of_cond)
        return a if a == b and stable(a) else ("cond", c, a, b)
    if kind == "bin":
        return _fold_binary(v[1], fold(v[2], truth_of_cond), fold(v[3], truth_of_cond), truth_of_cond)
    if kind == "cof":
        inner = fold(v[1], truth_of_cond)
        member = v[3] if len(v) > 3 else ""
        if inner[0] == "addr" and inner[1][0] == "mem" and inner[1][2] == member:
            base: Value = inner[1][1]
            return base  # container_of(&d->w, T, w) is d
        return ("cof", inner, *v[2:])
    if kind == "mem":
        base = fold(v[1], truth_of_cond)
        if base[0] == "mem" and base[2] == v[2]:
            # Widening: `x->parent->parent` is taken as `x->parent`. Member chains only matter
            # by their end (may_alias), and recursion down a linked structure then settles.
            return base
        return ("mem", base, v[2])
    out: list[Any] = [kind]
    for part in v[1:]:
        out.append(fold(part, truth_of_cond) if isinstance(part, tuple) else part)
    return tuple(out)


def _fold_binary(op: str, a: Value, b: Value, toc: Callable[[Any], bool | None] | None) -> Value:
    if op == "&&":
        ta, tb = _truth_folded(a, toc), _truth_folded(b, toc)
        if ta is False or tb is False:
            return ZERO
        if ta is True and tb is True:
            return ONE
        return ("bin", op, a, b)
    if op == "||":
        ta, tb = _truth_folded(a, toc), _truth_folded(b, toc)
        if ta is True or tb is True:
            return ONE
        if ta is False and tb is False:
            return ZERO
        return ("bin", op, a, b)
    if a[0] == "int" and b[0] == "int":
        fn = _ARITH.get(op)
        r = fn(a[1], b[1]) if fn else None
        return const(r) if r is not None else ("bin", op, a, b)
    if op in ("|", "&", "^") and b[0] == "int" and a[0] == "bin" and a[1] == op and a[3][0] == "int":
        fn = _ARITH[op]
        merged = fn(a[3][1], b[1])
        assert merged is not None
        return _fold_binary(op, a[2], const(merged), toc)  # (x | 1) | 1 == x | 1
    if op == "&":
        pa, pb = possible_ones(a), possible_ones(b)
        if (pa is not None and pb is not None and pa & pb == 0) or a == ZERO or b == ZERO:
            return ZERO
        if b[0] == "int" and b[1] >= 0 and known_ones(a) & b[1] == b[1]:
            return b  # (flags | F) & F == F
    if op in ("==", "!=") and a == b and stable(a):
        return const(int(op == "=="))
    if op in ("==", "!=") and (a[0] == "int" or b[0] == "int"):
        # A constant that the other side can never equal: (x & 1) == 2 is false.
        c, other = (a, b) if a[0] == "int" else (b, a)
        po = possible_ones(other)
        if po is not None and (c[1] & MASK64) & ~po:
            return const(int(op == "!="))
    return ("bin", op, a, b)


def truth(v: Value, truth_of_cond: Callable[[Any], bool | None] | None = None) -> bool | None:
    """Whether v is non-zero: True, False, or None when not known."""
    return _truth_folded(fold(v, truth_of_cond) if v[0] not in ("int", "C") else v, truth_of_cond)


def _truth_folded(v: Value, truth_of_cond: Callable[[Any], bool | None] | None) -> bool | None:
    """truth() of a value fold() has already simplified. Folding it again at every level of
    `a && b && c ...` made fold take 2^n steps on a chain of n conditions."""
    if v[0] == "int":
        return bool(v[1] != 0)
    if v[0] == "C" and truth_of_cond is not None:
        return truth_of_cond(v[1])
    if v[0] in ("addr",):
        return True  # the address of an object is never NULL
    if v[0] == "cond":
        a, b = _truth_folded(v[2], truth_of_cond), _truth_folded(v[3], truth_of_cond)
        return a if a == b else None
    return None


# -- ranges -------------------------------------------------------------------------------


def u64(v: Value) -> Value:
    """A value passed where a primitive takes a u64 (IOVA ranges): -1 is all ones."""
    return const(v[1] & MASK64) if v[0] == "int" else v


def linear(v: Value) -> tuple[Value | None, int] | None:
    """v as symbol + offset, when it is one (`domain->bounce_size - 1` -> (bounce_size, -1))."""
    if v[0] == "int":
        return None, v[1]
    if v[0] == "bin" and v[1] in ("+", "-") and v[3][0] == "int":
        inner = linear(v[2])
        if inner is None:
            return None
        off = v[3][1] if v[1] == "+" else -v[3][1]
        return inner[0], inner[1] + off
    if stable(v):
        return v, 0
    return None


def le(a: Value, b: Value) -> bool | None:
    """a <= b for unsigned 64-bit range ends: True, False, or None (not known)."""
    if a == ZERO or b == const(MASK64):
        return True
    la, lb = linear(a), linear(b)
    if la is None or lb is None:
        return None
    if la[0] == lb[0]:
        return la[1] <= lb[1]
    if la[0] is None and la[1] <= 0:
        return True
    return None


def overlaps(r1: tuple[Value, Value], r2: tuple[Value, Value]) -> bool | None:
    """Whether two IOVA ranges [lo, hi] share an address (None: not known)."""
    a = le(r1[0], r2[1])
    b = le(r2[0], r1[1])
    if a is False or b is False:
        return False
    if a is True and b is True:
        return True
    return None


def within(inner: tuple[Value, Value], outer: tuple[Value, Value]) -> bool:
    return le(outer[0], inner[0]) is True and le(inner[1], outer[1]) is True


WHOLE = (ZERO, const(MASK64))


def is_whole(r: tuple[Value, Value]) -> bool:
    return u64(r[0]) == ZERO and u64(r[1]) == const(MASK64)


# -- access paths -------------------------------------------------------------------------


def chain(v: Value) -> tuple[str, ...] | None:
    """The member names from the root object to v (`&d->a[i].b` -> ("a", "b")); indices,
    address-of and container_of are transparent. None when v is no access path."""
    out: list[str] = []
    while True:
        kind = v[0]
        if kind == "mem":
            out.append(v[2])
            v = v[1]
        elif kind in ("idx", "cast"):
            v = v[1] if kind == "idx" else v[2]
        elif kind in ("addr", "deref", "cof"):
            v = v[1]
        elif kind in ("param", "id", "callv", "fresh"):  # an accessor the analysis cannot see into
            return tuple(reversed(out))
        else:
            return None


def root(v: Value) -> Value | None:
    while True:
        kind = v[0]
        if kind == "mem" or kind in ("idx", "addr", "deref", "cof"):
            v = v[1]
        elif kind == "cast":
            v = v[2]
        elif kind in ("param", "id", "callv", "fresh"):
            return v
        else:
            return None


def indices(v: Value) -> dict[int, Value]:
    """Index values by their depth in the chain (for telling iommu[0] from iommu[1])."""
    out: dict[int, Value] = {}
    steps: list[tuple[str, Value | None]] = []
    while True:
        kind = v[0]
        if kind == "mem":
            steps.append(("f", None))
            v = v[1]
        elif kind == "idx":
            steps.append(("i", v[2]))
            v = v[1]
        elif kind in ("addr", "deref", "cof"):
            v = v[1]
        elif kind == "cast":
            v = v[2]
        else:
            break
    depth = 0
    for kind, idx in reversed(steps):
        if kind == "f":
            depth += 1
        elif idx is not None:
            out[depth] = idx
    return out


def may_alias(a: Value, b: Value) -> bool:
    """Whether two access paths may name the same object. Member chains are compared from
    their end (the shorter a suffix of the longer: `mvdev->cvq.iotlb` and `cvq.iotlb`), as
    the roots are seen through different casts; constant indices that differ never alias."""
    ca, cb = chain(a), chain(b)
    if ca is None or cb is None:
        return True
    if not ca or not cb:
        return True  # a bare pointer (a parameter, a local) may point at anything
    n = min(len(ca), len(cb))
    if ca[-n:] != cb[-n:]:
        return False
    ia, ib = indices(a), indices(b)
    shift_a, shift_b = len(ca) - n, len(cb) - n
    for depth, x in ia.items():
        y = ib.get(depth - shift_a + shift_b)
        if y is not None and x[0] == "int" and y[0] == "int" and x != y:
            return False
    return True


def contains_chain(outer: tuple[str, ...], inner: tuple[str, ...]) -> bool:
    """Whether inner is a contiguous run of outer (the object inner names holds outer's end)."""
    if not inner:
        return True
    n = len(inner)
    return any(outer[i : i + n] == inner for i in range(len(outer) - n + 1))


# -- display ------------------------------------------------------------------------------


def show(v: Value, names: Mapping[int, str] | None = None) -> str:
    """C-like text of a value, parameters by their names."""
    kind = v[0]
    if kind == "int":
        x = v[1]
        return "ULLONG_MAX" if x == MASK64 else (hex(x) if x > 4096 else str(x))
    if kind == "param":
        return (names or {}).get(v[1], f"${v[1]}")
    if kind == "id":
        return str(v[1])
    if kind == "unk":
        return f"<{v[1]}>"
    if kind == "mem":
        base = show(v[1], names)
        return f"{base}->{v[2]}"
    if kind == "idx":
        return f"{show(v[1], names)}[{show(v[2], names)}]"
    if kind == "addr":
        return f"&{show(v[1], names)}"
    if kind == "deref":
        return f"*{show(v[1], names)}"
    if kind == "cof":
        return show(v[1], names)
    if kind == "cast":
        return show(v[2], names)
    if kind == "un":
        return f"{v[1]}{_paren(v[2], names)}"
    if kind == "bin":
        return f"{_paren(v[2], names)} {v[1]} {_paren(v[3], names)}"
    if kind == "cond":
        return f"{_paren(v[1], names)} ? {show(v[2], names)} : {show(v[3], names)}"
    if kind == "callv":
        return f"{v[1]}({', '.join(show(a, names) for a in v[2])})"
    if kind == "fresh":
        return f"<new object from {v[1]}()>"
    if kind == "iter":
        return f"entry of {show(v[1], names)} in [{show(v[2], names)}, {show(v[3], names)}]"
    if kind == "C":
        return "<path condition>"
    return "?"


def _paren(v: Value, names: Mapping[int, str] | None) -> str:
    text = show(v, names)
    return f"({text})" if v[0] in ("bin", "cond") else text


def struct_of(type_text: str) -> str:
    """`struct_vdpasim__` (a type argument after idiom masking) or `struct vdpasim *` -> vdpasim."""
    words = (
        type_text.replace("*", " ").replace("_", " ").split()
        if "struct_" in type_text
        else type_text.replace("*", " ").split()
    )
    words = [w for w in words if w not in ("const", "volatile", "struct", "union")]
    if "struct_" in type_text:
        raw = type_text.replace("*", "").strip().strip("_")
        for prefix in ("const_struct_", "struct_"):
            if raw.startswith(prefix):
                return raw[len(prefix) :].rstrip("_")
    return words[-1] if words else ""
