"""The knowledge base (rules/primitives.toml) as a small signature language.

Each entry names a kernel function, the effects of a call in terms of its arguments
(`$0`, `$1`, ...) and, for iterators, what it returns; every entry says why. The
loader validates every entry and raises KnowledgeError with a clear message.

    effects = [{ deletes = "$0", range = ["$1", "$2"] }]   # entries of IOTLB $0 in [$1, $2]
    effects = [{ deletes = "$0" }]                         # every entry of $0
    effects = [{ deletes = "$0", entry = "$1" }]           # the entry $1 (an iteration's)
    effects = [{ adds = "$0", range = ["$1", "$2"], addr = "$3" }]
    effects = [{ binds = "$0", to = "$1" }]                # vring $0 now uses IOTLB $1
    effects = [{ writes = "$0" }]                          # the memory $0 points at
    effects = [{ drops_reference = "$0" }]
    effects = []                                           # no effect on IOTLBs or bindings
    returns = { iterates = "$0", range = ["$1", "$2"] }    # first entry of $0 in [$1, $2]
    returns = { continues = "$0", range = ["$1", "$2"] }   # next entry after $0
    returns = { constant = 0 }                             # what it returns on an analysed path
    returns = { fresh = true }                             # a new object: it holds no earlier map
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NamedTuple

from analyzer import tomldata
from analyzer.semantics import values as V
from analyzer.semantics.values import Value


class KnowledgeError(Exception):
    """A malformed knowledge-base file."""


_REF_RE = re.compile(r"^\$(\d+)$")
_KINDS = {
    "deletes": {"range", "entry"},
    "adds": {"range", "addr"},
    "binds": {"to"},
    "writes": set(),
    "drops_reference": set(),
    "defers": set(),
}
_RETURNS = {"iterates", "continues", "constant", "fresh"}


def rules_dir() -> Path:
    """Where rule files live: inside the wheel, or beside the package in a checkout."""
    packaged = Path(__file__).parent.parent / "_rules"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent.parent / "rules"


class Signature(NamedTuple):
    """One effect of a call: kind and argument references."""

    kind: str  # deletes, adds, binds, writes, drops_reference
    target: int
    refs: tuple[tuple[str, Any], ...]  # (key, argument index or pair of indices)


class Primitive(NamedTuple):
    name: str
    effects: tuple[Signature, ...]
    returns: tuple[str, int, tuple[int, int]] | None
    reason: str


class Instance(NamedTuple):
    """A signature applied to a call's argument values."""

    kind: str
    obj: Value
    lo: Value
    hi: Value
    value: Value


class KnowledgeBase(NamedTuple):
    entries: dict[str, Primitive]
    constants: dict[str, int]
    constant_reasons: dict[str, str]

    def get(self, name: str) -> Primitive | None:
        return self.entries.get(name)

    def apply(self, prim: Primitive, args: tuple[Value, ...]) -> list[Instance]:
        def arg(i: int) -> Value:
            return args[i] if i < len(args) else V.unknown(f"argument {i + 1} of {prim.name} missing")

        out = []
        for sig in prim.effects:
            obj = arg(sig.target)
            refs = dict(sig.refs)
            lo: Value = V.ZERO
            hi: Value = V.const(V.MASK64)
            value: Value = V.unknown("no value")
            if "range" in refs:
                lo, hi = V.u64(V.fold(arg(refs["range"][0]))), V.u64(V.fold(arg(refs["range"][1])))
            if "entry" in refs:
                entry = arg(refs["entry"])
                if entry[0] == "iter" and V.may_alias(entry[1], obj):
                    lo, hi = entry[2], entry[3]
                else:
                    lo = hi = V.unknown(f"the entry {prim.name} frees")
            if "addr" in refs:
                value = V.u64(V.fold(arg(refs["addr"])))
            if "to" in refs:
                value = arg(refs["to"])
            out.append(Instance(sig.kind, obj, lo, hi, value))
        return out

    def returned(self, prim: Primitive, args: tuple[Value, ...]) -> Value | None:
        if prim.returns is None:
            return None
        how, ref, (i, j) = prim.returns
        if how == "constant":
            return V.const(ref)
        if how == "fresh":
            return ("fresh", prim.name)
        missing = V.unknown("argument missing")
        a = args[ref] if ref < len(args) else missing
        lo = V.u64(V.fold(args[i])) if i < len(args) else missing
        hi = V.u64(V.fold(args[j])) if j < len(args) else missing
        if how == "iterates":
            return ("iter", a, lo, hi)
        obj = a[1] if a[0] == "iter" else V.unknown("the IOTLB an entry belongs to")
        return ("iter", obj, lo, hi)


def _ref(raw: object, where: str) -> int:
    m = _REF_RE.match(raw) if isinstance(raw, str) else None
    if m is None:
        raise KnowledgeError(f'{where}: {raw!r} is not an argument reference like "$0"')
    return int(m.group(1))


def _pair(raw: object, where: str) -> tuple[int, int]:
    if not isinstance(raw, list) or len(raw) != 2:
        raise KnowledgeError(f'{where}: range must be ["$start", "$last"]')
    return _ref(raw[0], where), _ref(raw[1], where)


def _signature(raw: object, where: str) -> Signature:
    if not isinstance(raw, dict):
        raise KnowledgeError(f'{where}: each effect is a table like {{ deletes = "$0" }}')
    kinds = [k for k in raw if k in _KINDS]
    if len(kinds) != 1:
        raise KnowledgeError(f"{where}: each effect names exactly one of {sorted(_KINDS)}")
    kind = kinds[0]
    extra = set(raw) - {kind} - _KINDS[kind]
    if extra:
        raise KnowledgeError(f"{where}: {kind} does not take {sorted(extra)}")
    refs: list[tuple[str, Any]] = []
    for key in sorted(set(raw) - {kind}):
        refs.append((key, _pair(raw[key], where) if key == "range" else _ref(raw[key], where)))
    return Signature(kind, _ref(raw[kind], where), tuple(refs))


def _primitive(raw: dict[str, Any], where: str) -> Primitive:
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise KnowledgeError(f"{where}: entry without a name")
    where = f"{where}: {name}"
    reason = raw.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise KnowledgeError(f"{where}: every entry needs a reason")
    unknown = set(raw) - {"name", "reason", "effects", "returns"}
    if unknown:
        raise KnowledgeError(f"{where}: unknown keys {sorted(unknown)}")
    effects = raw.get("effects", [])
    if not isinstance(effects, list):
        raise KnowledgeError(f"{where}: effects must be a list")
    returns = raw.get("returns")
    ret: tuple[str, int, tuple[int, int]] | None = None
    if returns is not None:
        if (
            not isinstance(returns, dict)
            or len(set(returns) & _RETURNS) != 1
            or set(returns) - _RETURNS - {"range"}
        ):
            raise KnowledgeError(f"{where}: returns takes one of {sorted(_RETURNS)} and a range")
        how = next(k for k in returns if k in _RETURNS)
        if how == "constant":
            if not isinstance(returns["constant"], int) or set(returns) != {"constant"}:
                raise KnowledgeError(f"{where}: returns = {{ constant = N }} takes one integer")
            ret = (how, returns["constant"], (0, 0))
        elif how == "fresh":
            if returns["fresh"] is not True or set(returns) != {"fresh"}:
                raise KnowledgeError(f"{where}: returns = {{ fresh = true }} takes nothing else")
            ret = (how, 0, (0, 0))
        else:
            ret = (how, _ref(returns[how], where), _pair(returns.get("range"), where))
    if "effects" not in raw and ret is None:
        raise KnowledgeError(f"{where}: say its effects (an empty list if it has none) or what it returns")
    return Primitive(name, tuple(_signature(e, where) for e in effects), ret, reason.strip())


def _constants(raw: object, where: str) -> tuple[dict[str, int], dict[str, str]]:
    if not isinstance(raw, dict):
        raise KnowledgeError(f"{where}: [constants] must be a table")
    values: dict[str, int] = {}
    reasons: dict[str, str] = {}
    for name, entry in raw.items():
        if not isinstance(entry, dict) or set(entry) != {"value", "reason"}:
            raise KnowledgeError(f"{where}: constant {name} needs value and reason")
        try:
            values[name] = int(str(entry["value"]), 0)
        except ValueError:
            raise KnowledgeError(f"{where}: constant {name}: {entry['value']!r} is not a number") from None
        reasons[name] = str(entry["reason"])
    return values, reasons


def load_knowledge(path: Path | None = None) -> KnowledgeBase:
    path = path or rules_dir() / "primitives.toml"
    try:
        data = tomldata.load(path)
    except (OSError, ValueError) as err:  # unreadable, not UTF-8, not TOML
        raise KnowledgeError(f"{path.name}: {err}") from None
    extra = set(data) - {"function", "constants"}
    if extra:
        raise KnowledgeError(f"{path.name}: unknown tables {sorted(extra)}")
    entries: dict[str, Primitive] = {}
    for raw in data.get("function", []):
        p = _primitive(raw, path.name)
        if p.name in entries:
            raise KnowledgeError(f"{path.name}: {p.name} is listed twice")
        entries[p.name] = p
    constants, reasons = _constants(data.get("constants", {}), path.name)
    return KnowledgeBase(entries, constants, reasons)
