"""The rule predicates: what each rule id decides about one ops table.

Each check returns `Issue`s; the engine gives them the rule's name and
severity. Checks read facts and walk effects; they do no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from analyzer.api import CLEAN_MAP_FLAG, VdpaApi
from analyzer.effects import EffectWalker, Reach
from analyzer.facts import Function, OpsEntry, OpsTable
from analyzer.findings import TraceStep
from analyzer.index import TreeIndex
from analyzer.model import DriverEffects, OpEffects

ONCHIP_OPS = ("set_map", "dma_map", "dma_unmap")
_WORD_RE = re.compile(r"\b[A-Za-z_]\w*\b")


class Issue(NamedTuple):
    rule_id: str
    path: str
    line: int
    column: int
    message: str
    trace: tuple[TraceStep, ...] = ()
    severity: str | None = None  # None: the rule's own


@dataclass
class DriverContext:
    table: OpsTable
    index: TreeIndex
    walker: EffectWalker
    api: VdpaApi
    conditional: dict[str, str] = field(default_factory=dict)  # op -> why it may be absent
    not_applicable: dict[str, str] = field(default_factory=dict)
    _functions: dict[str, Function | None] = field(default_factory=dict)
    _reach: dict[tuple[str, int | None], tuple[Reach, ...]] = field(default_factory=dict)
    missing: list[Issue] = field(default_factory=list)

    def function(self, op: str) -> Function | None:
        if op not in self._functions:
            entry = self.table.entry(op)
            fn = None
            if entry is not None and entry.function is not None:
                res = self.index.resolve(entry.function, self.table.path)
                fn = res.function
                if fn is None:
                    why = res.problem.message if res.problem else "no definition in the scanned tree"
                    self.missing.append(
                        Issue(
                            "VDPA000",
                            self.table.path,
                            entry.line,
                            entry.column,
                            f"cannot analyse .{op} = {entry.function}: {why}",
                        )
                    )
            self._functions[op] = fn
        return self._functions[op]

    def reach(self, op: str, flags: int | None = None) -> tuple[Reach, ...]:
        """Effects of an op; for .compat_reset, with its flags argument fixed."""
        key = (op, flags)
        if key not in self._reach:
            fn = self.function(op)
            env: dict[str, int] = {}
            if fn is not None and flags is not None and len(fn.params) > 1:
                env[fn.params[1]] = flags
            self._reach[key] = self.walker.reach(fn, env) if fn is not None else ()
        return self._reach[key]

    def note(self, op: str) -> str:
        why = self.conditional.get(op)
        return f" (.{op} is conditional: {why})" if why else ""


def trace_of(ctx: DriverContext, op: str, reach: Reach) -> tuple[TraceStep, ...]:
    fn = ctx.function(op)
    assert fn is not None
    steps = [TraceStep(fn.name, fn.path, fn.line, fn.column, f".{op} = {fn.name} in {ctx.table.name}")]
    for s in reach.trace:
        note = f"{s.function} calls {s.callee}"
        if s.conditions:
            note += f" when {' && '.join(s.conditions)}"
        steps.append(TraceStep(s.callee, s.path, s.line, s.column, note))
    return tuple(steps)


def _chain(reach: Reach) -> str:
    return " -> ".join([reach.trace[0].function, *(s.callee for s in reach.trace)])


def _distinct_sites(reaches: Iterable[Reach], effect: str) -> list[Reach]:
    """The first (shortest-found) trace to each distinct call site of an effect."""
    seen: dict[tuple[str, int, int], Reach] = {}
    for r in reaches:
        if r.effect == effect:
            site = (r.site.path, r.site.line, r.site.column)
            if site not in seen or len(r.trace) < len(seen[site].trace):
                seen[site] = r
    return sorted(seen.values(), key=lambda r: (r.site.path, r.site.line, r.site.column))


def _entry_issue(
    rule: str, entry: OpsEntry, table: OpsTable, message: str, severity: str | None = None
) -> Issue:
    return Issue(rule, table.path, entry.line, entry.column, message, severity=severity)


def check_analysis_gaps(ctx: DriverContext) -> list[Issue]:
    out: list[Issue] = []
    t = ctx.table
    if t.gap_lines:
        out.append(
            Issue(
                "VDPA000",
                t.path,
                t.gap_lines[0],
                1,
                f"ops table {t.name} could not be fully parsed; its entries may be incomplete",
            )
        )
    for op in ("reset", "compat_reset", "set_group_asid"):
        flags = 0 if op == "compat_reset" else None
        for r in _distinct_sites(ctx.reach(op, flags), "gap"):
            if r.problem is not None:
                msg = (
                    f"cannot analyse {r.primitive}() on the .{op} path: {r.problem.path}: {r.problem.message}"
                )
            else:
                msg = (
                    f"{r.primitive}() on the .{op} path could not be fully parsed; calls in it may be missed"
                )
            out.append(Issue("VDPA000", r.site.path, r.site.line, r.site.column, msg, trace_of(ctx, op, r)))
    out.extend(ctx.missing)
    return out


def check_reset_clears_map(ctx: DriverContext) -> list[Issue]:
    out = []
    fn = ctx.function("reset")
    for r in _distinct_sites(ctx.reach("reset"), "clears_map"):
        msg = f".reset ({fn.name if fn else '?'}) clears upper-layer IOTLB mappings: {_chain(r)}()"
        if not ctx.api.has("compat_reset"):
            msg += "; this tree's vdpa.h has no .compat_reset/.reset_map to move the clearing to"
        out.append(Issue("VDPA001", r.site.path, r.site.line, r.site.column, msg, trace_of(ctx, "reset", r)))
    return out


def check_compat_reset_missing(ctx: DriverContext) -> list[Issue]:
    if not ctx.api.has("compat_reset"):
        ctx.not_applicable["VDPA002"] = f"{ctx.api.header or 'the API'} has no .compat_reset"
        return []
    if ctx.table.entry("compat_reset") is not None:
        return []
    if not _distinct_sites(ctx.reach("reset"), "clears_map"):
        return []
    t = ctx.table
    return [
        Issue(
            "VDPA002",
            t.path,
            t.line,
            t.column,
            f"{t.name}: .reset clears mappings and there is no .compat_reset to keep that "
            f"behaviour for userspace without VHOST_BACKEND_F_IOTLB_PERSIST",
        )
    ]


def check_compat_reset_unguarded(ctx: DriverContext) -> list[Issue]:
    entry = ctx.table.entry("compat_reset")
    if entry is None or not ctx.api.has("compat_reset"):
        return []
    out = []
    for r in _distinct_sites(ctx.reach("compat_reset", 0), "clears_map"):
        msg = f".compat_reset ({entry.function}) clears mappings even without {CLEAN_MAP_FLAG}: {_chain(r)}()"
        out.append(
            Issue("VDPA003", r.site.path, r.site.line, r.site.column, msg, trace_of(ctx, "compat_reset", r))
        )
    return out


def check_compat_reset_needless(ctx: DriverContext) -> list[Issue]:
    entry = ctx.table.entry("compat_reset")
    if entry is None or not ctx.api.has("compat_reset") or ctx.function("compat_reset") is None:
        return []
    reach = ctx.reach("compat_reset", ctx.api.clean_map)
    if any(r.effect in ("clears_map", "gap") for r in reach):
        return []
    return [
        _entry_issue(
            "VDPA004",
            entry,
            ctx.table,
            f".compat_reset ({entry.function}) never clears mappings, even with "
            f"{CLEAN_MAP_FLAG}; a compliant driver implements only .reset",
        )
    ]


def check_reset_map_missing(ctx: DriverContext) -> list[Issue]:
    t = ctx.table
    if not ctx.api.has("reset_map"):
        ctx.not_applicable["VDPA005"] = f"{ctx.api.header or 'the API'} has no .reset_map"
        return []
    onchip = [op for op in ONCHIP_OPS if t.entry(op) is not None]
    if not onchip:
        ctx.not_applicable["VDPA005"] = "no on-chip IOMMU ops (.set_map/.dma_map): platform IOMMU"
        return []
    if t.entry("reset_map") is not None:
        return []
    ops = "/".join("." + o for o in onchip)
    if t.entry("compat_reset") is not None:
        # It used to clear maps in reset, so it has an initial state to give back (seed 002).
        why, severity = (
            f"{t.name} has {ops} and .compat_reset but no .reset_map to restore the initial mapping",
            None,
        )
    else:
        why = (
            f"{t.name} has {ops} but no .reset_map; vhost-vdpa cannot return an address space "
            f"to its initial mapping on release"
        )
        severity = "note"  # optional for a parent that never cleared (seed 002: "not a MUST")
    return [Issue("VDPA005", t.path, t.line, t.column, why, severity=severity)]


def check_dma_ops_unpaired(ctx: DriverContext) -> list[Issue]:
    t = ctx.table
    have_map, have_unmap = t.entry("dma_map"), t.entry("dma_unmap")
    if have_map and not have_unmap:
        return [_entry_issue("VDPA006", have_map, t, f"{t.name} has .dma_map without .dma_unmap")]
    if have_unmap and not have_map:
        return [_entry_issue("VDPA006", have_unmap, t, f"{t.name} has .dma_unmap without .dma_map")]
    return []


def check_desc_group_without_asid(ctx: DriverContext) -> list[Issue]:
    t = ctx.table
    if not ctx.api.has("get_vq_desc_group"):
        ctx.not_applicable["VDPA007"] = f"{ctx.api.header or 'the API'} has no .get_vq_desc_group"
        return []
    entry = t.entry("get_vq_desc_group")
    if entry is None or t.entry("set_group_asid") is not None:
        return []
    return [
        _entry_issue(
            "VDPA007",
            entry,
            t,
            f"{t.name} has .get_vq_desc_group but no .set_group_asid: the descriptor "
            f"group can never be moved to another address space{ctx.note('get_vq_desc_group')}",
        )
    ]


def _binding_state(ctx: DriverContext) -> set[str]:
    """Members .set_group_asid writes from its asid argument, and ASID bindings it sets."""
    fn = ctx.function("set_group_asid")
    if fn is None:
        return set()
    keys = {r.state for r in ctx.reach("set_group_asid") if r.effect == "writes_asid_binding" and r.state}
    keys |= _tainted_writes(ctx, fn, {fn.params[-1]} if fn.params else set(), 0)
    return keys


def _tainted_writes(ctx: DriverContext, fn: Function, tainted: set[str], depth: int) -> set[str]:
    tainted = set(tainted)
    for name, reads in fn.local_reads:
        if reads & tainted:
            tainted.add(name)
    keys = {w.key for w in fn.writes if w.reads & tainted}
    if depth >= 3:
        return keys
    for call in fn.calls:
        hit = [i for i, a in enumerate(call.arg_texts) if set(_WORD_RE.findall(a)) & tainted]
        if not hit or ctx.walker.kb.get(call.callee) is not None:
            continue
        callee = ctx.index.resolve(call.callee, fn.path).function
        if callee is not None:
            params = {callee.params[i] for i in hit if i < len(callee.params)}
            keys |= _tainted_writes(ctx, callee, params, depth + 1)
    return keys


def _last(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def check_reset_keeps_asid_binding(ctx: DriverContext) -> list[Issue]:
    t = ctx.table
    entry = t.entry("set_group_asid")
    if entry is None or ctx.function("reset") is None:
        return []
    binding = _binding_state(ctx)
    if not binding:
        ctx.not_applicable["VDPA008"] = "no ASID binding state found in .set_group_asid"
        return []
    written = {
        _last(r.state)
        for r in ctx.reach("reset")
        if r.state and r.effect in ("write", "writes_state", "writes_asid_binding")
    }
    if {_last(k) for k in binding} & written:
        return []
    state = ", ".join(sorted(binding))
    return [
        _entry_issue(
            "VDPA008",
            entry,
            t,
            f".set_group_asid ({entry.function}) writes {state}, which the .reset path never "
            f"resets: groups stay bound to their ASID after reset",
        )
    ]


def _op_effects(ctx: DriverContext, op: str, flags: int | None = None) -> OpEffects:
    """What the model needs of one op: does it clear, restore passthrough, reset bindings."""
    if ctx.table.entry(op) is None:
        return OpEffects()
    if ctx.function(op) is None:
        return OpEffects(True, None, None, None)
    reach = ctx.reach(op, flags)
    gap = any(r.effect == "gap" for r in reach)
    clears = any(r.effect == "clears_map" for r in reach)
    restores = any(r.effect == "restores_passthrough" for r in reach)
    return OpEffects(
        True,
        True if clears else (None if gap else False),
        True if restores else (None if gap else False),
        _resets_bindings(ctx, reach),
    )


def _resets_bindings(ctx: DriverContext, reach: tuple[Reach, ...]) -> bool | None:
    if ctx.table.entry("set_group_asid") is None:
        return True  # nothing ever moves a group: every group is in ASID 0 after reset
    binding = _binding_state(ctx)
    if not binding:
        return None
    written = {
        _last(r.state)
        for r in reach
        if r.state and r.effect in ("write", "writes_state", "writes_asid_binding")
    }
    return bool({_last(k) for k in binding} & written)


def driver_effects(ctx: DriverContext) -> DriverEffects:
    ops = frozenset(e.op for e in ctx.table.entries if e.function is not None)
    return DriverEffects(
        ctx.api.ops,
        ops,
        _op_effects(ctx, "reset"),
        _op_effects(ctx, "compat_reset", ctx.api.clean_map),
        _op_effects(ctx, "reset_map"),
    )


CHECKS: dict[str, Callable[[DriverContext], list[Issue]]] = {
    "VDPA000": check_analysis_gaps,
    "VDPA001": check_reset_clears_map,
    "VDPA002": check_compat_reset_missing,
    "VDPA003": check_compat_reset_unguarded,
    "VDPA004": check_compat_reset_needless,
    "VDPA005": check_reset_map_missing,
    "VDPA006": check_dma_ops_unpaired,
    "VDPA007": check_desc_group_without_asid,
    "VDPA008": check_reset_keeps_asid_binding,
}
