"""The rule predicates: what each rule id decides about one ops table.

Each check returns `Issue`s; the engine gives them the rule's name and severity.
Checks read the table's instantiated effects (driver.py); they do no I/O. Every
message names its ops table: two tables sharing a function give two findings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from analyzer.api import CLEAN_MAP_FLAG
from analyzer.driver import Clear, DriverContext, Issue, chain_text, trace_of
from analyzer.facts import OpsEntry, OpsTable
from analyzer.model import DriverEffects, OpEffects
from analyzer.semantics import conds as C
from analyzer.semantics import contract as K
from analyzer.semantics import values as V
from analyzer.semantics.summaries import Effect

UNKNOWN_PATHS = (("reset", None), ("compat_reset", 0), ("set_group_asid", None))


def _by_site(effects: Iterable[Effect]) -> list[Effect]:
    """One effect per distinct site (the shortest trace to it), in source order."""
    seen: dict[tuple[str, int, int], Effect] = {}
    for e in effects:
        k = (e.site.path, e.site.line, e.site.column)
        if k not in seen or (len(e.trace), e.trace) < (len(seen[k].trace), seen[k].trace):
            seen[k] = e
    return sorted(seen.values(), key=lambda e: (e.site.path, e.site.line, e.site.column))


def _clears_by_site(clears: list[Clear]) -> list[Effect]:
    return _by_site(c.effect for c in clears)


def _entry_issue(
    rule: str, entry: OpsEntry, table: OpsTable, message: str, severity: str | None = None
) -> Issue:
    return Issue(rule, table.path, entry.line, entry.column, message, severity=severity)


def _onchip_applies(ctx: DriverContext, rule: str) -> bool:
    if not ctx.onchip:
        ctx.not_applicable[rule] = (
            "no on-chip IOMMU ops (.set_map/.dma_map): the platform IOMMU holds the maps"
        )
        return False
    return True


def check_analysis_gaps(ctx: DriverContext) -> list[Issue]:
    out: list[Issue] = []
    t = ctx.table
    if t.gap_lines:
        msg = f"{t.name}: the ops table could not be fully parsed; its entries may be incomplete"
        out.append(Issue("VDPA000", t.path, t.gap_lines[0], 1, msg))
    seen: set[tuple[str, int, int]] = set()
    for op, flags in UNKNOWN_PATHS:
        if ctx.table.entry(op) is None or (op == "compat_reset" and not ctx.api.has("compat_reset")):
            continue
        for e in _by_site(ctx.unfollowed(op, flags)):
            where = (e.site.path, e.site.line, e.site.column)
            if where in seen:
                continue
            seen.add(where)
            if e.kind == "gap":
                msg = f"{t.name}: {e.why}, on the .{op} path; calls in it may be missed"
                out.append(Issue("VDPA000", *where, msg, trace_of(ctx, op, e)))
                continue
            what = (
                e.why
                if e.kind == "unknown"
                else f"{e.why}() has no body in the scanned tree and is passed the device"
            )
            msg = f"{t.name}: the .{op} path calls what the analysis cannot follow: {what}"
            out.append(Issue("VDPA000", *where, msg, trace_of(ctx, op, e), severity="note"))
    facts = ctx.index.facts(t.path)
    if not t.configuration_of and facts is not None:
        for c in facts.runtime_clears:
            if c.table == t.name and c.variable:
                msg = (
                    f"{t.name}: .{c.op} is set at run time to the value of {c.value} "
                    f"({c.function}() at {c.path}:{c.line}); the function it holds is not followed"
                )
                out.append(Issue("VDPA000", c.path, c.line, c.column, msg, severity="note"))
    out.extend(ctx.missing)
    return out


def check_reset_clears_map(ctx: DriverContext) -> list[Issue]:
    if not _onchip_applies(ctx, "VDPA001"):
        return []
    out = []
    fn = ctx.function("reset")
    t = ctx.table
    for e in _clears_by_site(ctx.clears("reset")):
        msg = f"{t.name}: .reset ({fn.name if fn else '?'}) clears upper-layer IOTLB mappings: {chain_text(ctx, 'reset', e)}"
        if not ctx.api.has("compat_reset"):
            msg += "; this tree's vdpa.h has no .compat_reset/.reset_map to move the clearing to"
        out.append(Issue("VDPA001", e.site.path, e.site.line, e.site.column, msg, trace_of(ctx, "reset", e)))
    return out


def check_compat_reset_missing(ctx: DriverContext) -> list[Issue]:
    if not ctx.api.has("compat_reset"):
        ctx.not_applicable["VDPA002"] = f"{ctx.api.header or 'the API'} has no .compat_reset"
        return []
    if ctx.table.entry("compat_reset") is not None or not ctx.onchip or not ctx.clears("reset"):
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
    if entry is None or not ctx.api.has("compat_reset") or not ctx.onchip:
        return []
    out = []
    for e in _clears_by_site(ctx.clears("compat_reset", 0)):
        msg = (
            f"{ctx.table.name}: .compat_reset ({entry.function}) clears mappings even without "
            f"{CLEAN_MAP_FLAG}: {chain_text(ctx, 'compat_reset', e)}"
        )
        out.append(
            Issue("VDPA003", e.site.path, e.site.line, e.site.column, msg, trace_of(ctx, "compat_reset", e))
        )
    return out


def check_compat_reset_needless(ctx: DriverContext) -> list[Issue]:
    entry = ctx.table.entry("compat_reset")
    if entry is None or not ctx.api.has("compat_reset") or ctx.function("compat_reset") is None:
        return []
    clean = ctx.api.clean_map
    if ctx.clears("compat_reset", clean) or ctx.unfollowed("compat_reset", clean):
        return []
    return [
        _entry_issue(
            "VDPA004",
            entry,
            ctx.table,
            f"{ctx.table.name}: .compat_reset ({entry.function}) never clears mappings, even with "
            f"{CLEAN_MAP_FLAG}; a compliant driver implements only .reset",
        )
    ]


def check_reset_map_missing(ctx: DriverContext) -> list[Issue]:
    t = ctx.table
    if not ctx.api.has("reset_map"):
        ctx.not_applicable["VDPA005"] = f"{ctx.api.header or 'the API'} has no .reset_map"
        return []
    onchip = ctx.onchip
    if not onchip:
        ctx.not_applicable["VDPA005"] = "no on-chip IOMMU ops (.set_map/.dma_map): platform IOMMU"
        return []
    if t.entry("reset_map") is not None:
        return []
    ops = "/".join("." + o for o in onchip)
    if t.entry("compat_reset") is not None:
        # It used to clear maps in reset, so it has an initial state to give back (d2cf1b6e3b85).
        why = f"{t.name} has {ops} and .compat_reset but no .reset_map to restore the initial mapping"
        severity = None
    else:
        why = (
            f"{t.name} has {ops} but no .reset_map; vhost-vdpa cannot return an address space "
            f"to its initial mapping on release"
        )
        severity = "note"  # optional for a parent that never cleared (d2cf1b6e3b85: "not a MUST")
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
    if entry is None:
        return []
    if t.entry("set_group_asid") is not None:
        return _desc_group_configurations(ctx)
    return [
        _entry_issue(
            "VDPA007",
            entry,
            t,
            f"{t.name} has .get_vq_desc_group but no .set_group_asid: the descriptor "
            f"group can never be moved to another address space{ctx.note('get_vq_desc_group')}",
        )
    ]


def _desc_group_configurations(ctx: DriverContext) -> list[Issue]:
    """VDPA007 in the configurations a copied table takes at run time: .set_group_asid set to
    NULL under conditions that do not also drop .get_vq_desc_group leaves a device whose
    descriptor group can never move."""
    absent = ctx.runtime_absent()
    if "set_group_asid" not in absent:
        return []
    when, clear, names = absent["set_group_asid"]
    desc = absent.get("get_vq_desc_group")
    if desc is not None and desc[0] <= when:
        return []  # whenever .set_group_asid goes, .get_vq_desc_group goes too
    shown = " && ".join(C.show_literals(when, names)) or "always"
    unless = f" and not ({' && '.join(C.show_literals(desc[0], desc[2]))})" if desc is not None else ""
    msg = (
        f"{ctx.table.name}: when {shown}{unless}, the device is registered with .get_vq_desc_group "
        f"but .set_group_asid is set to NULL ({clear.function}() at {clear.path}:{clear.line}): "
        f"the descriptor group can never be moved to another address space"
    )
    return [Issue("VDPA007", clear.path, clear.line, clear.column, msg)]


def _field(v: V.Value) -> str | None:
    ch = V.chain(v)
    return ch[-1] if ch else None


def binding_state(ctx: DriverContext) -> set[str]:
    """Members .set_group_asid writes from its asid argument, and vrings it rebinds."""
    fn = ctx.function("set_group_asid")
    effects = ctx.effects("set_group_asid") or ()
    if fn is None:
        return set()
    asid = len(fn.params) - 1
    out = set()
    for e in effects:
        if e.kind == "bind" or (e.kind == "write" and asid in V.params_in(e.value)):
            name = _field(e.obj)
            if name:
                out.add(name)
    return out


def reset_writes(ctx: DriverContext, effects: Iterable[Effect]) -> set[str]:
    return {f for e in effects if e.kind in ("write", "bind") for f in [_field(e.obj)] if f}


def check_reset_keeps_asid_binding(ctx: DriverContext) -> list[Issue]:
    t = ctx.table
    entry = t.entry("set_group_asid")
    if entry is None or ctx.function("reset") is None:
        return []
    binding = binding_state(ctx)
    if not binding:
        ctx.not_applicable["VDPA008"] = "no ASID binding state found in .set_group_asid"
        return []
    if binding & reset_writes(ctx, ctx.effects("reset") or ()):
        return []
    state = ", ".join(sorted(binding))
    return [
        _entry_issue(
            "VDPA008",
            entry,
            t,
            f"{t.name}: .set_group_asid ({entry.function}) writes {state}, which the .reset path never "
            f"resets: groups stay bound to their ASID after reset",
        )
    ]


def _asid_index(e: Effect, asid: int) -> str:
    """Which address space an IOTLB effect touches: "this" (indexed by the asid argument),
    "other" (a constant or loop index), or "shared" (an IOTLB not indexed per ASID)."""
    indices = V.indices(e.obj)
    if not indices:
        return "shared"
    return "this" if all(i == ("param", asid) for i in indices.values()) else "other"


def check_reset_map_not_initial(ctx: DriverContext) -> list[Issue]:
    t = ctx.table
    entry = t.entry("reset_map")
    if not ctx.api.has("reset_map"):
        ctx.not_applicable["VDPA010"] = f"{ctx.api.header or 'the API'} has no .reset_map"
        return []
    fn = ctx.function("reset_map")
    if entry is None or fn is None or len(fn.params) < 2:
        return []
    region = ctx.region()
    if not region or K.ANY_IOTLB in region or ctx.unfollowed("reset_map"):
        return []  # the maps are not in IOTLBs the analysis sees, or it could not follow it all
    touched = [e for e in ctx.effects("reset_map") or () if e.kind in ("delete", "add")]
    why = ""
    if not touched:
        why = "does nothing to the address space's IOTLB"
    elif others := [e for e in touched if _asid_index(e, 1) == "other"]:
        where = others[0].site
        why = (
            f"changes address spaces other than the one it is given "
            f"({V.show(others[0].obj, dict(enumerate(fn.params)))} at {where.path}:{where.line})"
        )
    else:
        initial = ctx.initial_passthrough()
        mine = [e for e in touched if _asid_index(e, 1) == "this"]
        for obj in dict.fromkeys(e.obj for e in mine):
            if not any(V.may_alias(obj, w.obj) for w in initial):
                continue
            last = [e for e in mine if e.obj == obj][-1]  # effects are in path order
            if not K.identity_whole(last):
                why = (
                    "leaves the address space empty, but the device starts in 1:1 passthrough "
                    f"({initial[0].site.path}:{initial[0].site.line})"
                )
                break
    if not why:
        return []
    return [_entry_issue("VDPA010", entry, t, f"{t.name}: .reset_map ({entry.function}) {why}")]


# -- what the reference model replays ----------------------------------------------------------


def _asids_of(e: Effect, asid_arg: int | None) -> tuple[int, ...]:
    """The address spaces an IOTLB effect touches: by its index (the op's asid argument, a
    constant, or a loop over all of them); an IOTLB not kept per ASID is the default one."""
    idx = list(V.indices(e.obj).values())
    if not idx:  # not kept per ASID: .reset_map(asid) acts on its own; the rest on the default one
        return (asid_arg,) if asid_arg in (0, 1) else (0,)
    value = idx[-1]
    if value[0] == "int":
        return (value[1],) if value[1] in (0, 1) else ()
    if asid_arg is not None and value == V.const(asid_arg):
        return (asid_arg,)
    return (0, 1)


def _op_effects(ctx: DriverContext, op: str, flags: int | None = None, asid: int | None = None) -> OpEffects:
    """What the model replays of one op: in path order, per address space, clear (a delete of
    the upper layer's maps), restore (1:1 passthrough added back) or unknown."""
    if ctx.table.entry(op) is None:
        return OpEffects()
    second = asid if asid is not None else flags  # the op's second argument, fixed
    effects = ctx.effects(op, second)
    if effects is None:
        return OpEffects(True, None, None, None)
    undecided = bool(ctx.unfollowed(op, second))
    cleared = {c.effect.key() for c in ctx.clears(op, second)} if ctx.onchip else set()
    clears = bool(cleared)
    per: list[list[str]] = [[], []]
    last: bool | None = None
    for e in effects:
        if e.key() in cleared:  # a delete of the upper layer's maps (kernel windows excluded)
            action, last = "clear", False
        elif K.identity_whole(e):
            action, last = "restore", True
        else:
            continue
        for a in _asids_of(e, asid):
            per[a].append(action)
    if undecided:
        per = [[*p, "unknown"] for p in per]
    return OpEffects(
        True,
        True if clears else (None if undecided else False),
        True if last is True else (None if undecided else False),
        _resets_bindings(ctx, effects, undecided),
        (tuple(per[0]), tuple(per[1])),
    )


def _resets_bindings(ctx: DriverContext, effects: tuple[Effect, ...], undecided: bool) -> bool | None:
    if ctx.table.entry("set_group_asid") is None:
        return True  # nothing ever moves a group: every group is in ASID 0 after reset
    binding = binding_state(ctx)
    if not binding:
        return None
    if binding & reset_writes(ctx, effects):
        return True
    return None if undecided else False


def driver_effects(ctx: DriverContext) -> DriverEffects:
    ops = frozenset(e.op for e in ctx.table.entries if e.function is not None)
    initial = ctx.initial_passthrough() if ctx.table.entry("reset_map") is not None else []
    source = (
        f"{initial[0].trace[0].function}() at {initial[0].site.path}:{initial[0].site.line}"
        if initial
        else "the contract's default (d2cf1b6e3b85)"
    )
    return DriverEffects(
        ctx.api.ops,
        ops,
        _op_effects(ctx, "reset"),
        _op_effects(ctx, "compat_reset", ctx.api.clean_map),
        _op_effects(ctx, "reset_map"),
        (_op_effects(ctx, "reset_map", asid=0), _op_effects(ctx, "reset_map", asid=1)),
        initial_source=source,
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
    "VDPA010": check_reset_map_not_initial,
}
