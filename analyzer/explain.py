"""`vdpa-lint explain TABLE[.OP]`: the summaries and path conditions a verdict came from.

Like `smatch --debug` or `spatch --control-flow`, it prints what the analysis believes:
for each op, the effects its summary gives when the vDPA core calls it (parameters
symbolic, .compat_reset's flags fixed as the rules fix them), each with its condition and
the chain of calls; the upper layer's region derived from .set_map/.dma_map; which deletes
clear it and which calls could not be followed.
"""

from __future__ import annotations

from analyzer.checks import binding_state
from analyzer.driver import DriverContext, chain_text
from analyzer.engine import Analysis, _conditional_ops
from analyzer.facts import OpsTable
from analyzer.rulebook import Rule
from analyzer.semantics import conds as C
from analyzer.semantics import contract as K
from analyzer.semantics import values as V
from analyzer.semantics.program import TreeProgram
from analyzer.semantics.summaries import Effect
from analyzer.source import InputError

OPS = ("reset", "compat_reset", "set_map", "dma_map", "dma_unmap", "reset_map", "set_group_asid")


def _effect(ctx: DriverContext, op: str, e: Effect, names: dict[int, str]) -> list[str]:
    kind = e.kind
    if kind in ("delete", "add"):
        what = f"{kind} {V.show(e.obj, names)} [{V.show(e.lo, names)}, {V.show(e.hi, names)}]"
        if kind == "add":
            what += f" -> {V.show(e.value, names)}" + (" (1:1 passthrough)" if K.identity_whole(e) else "")
    elif kind in ("write", "bind"):
        what = f"{kind} {V.show(e.obj, names)} = {V.show(e.value, names)}"
    elif kind == "extern":
        what = f"calls {e.why}() (no body in the tree) with {', '.join(V.show(a, names) for a in e.args)}"
    else:
        what = f"{kind}: {e.why}"
    out = [f"    {what}", f"      when: {C.show(e.cond, names)}"]
    given = [c for s in e.trace for c in s.conditions]
    if given:  # conditions no caller can decide: the effect may happen, they say where
        out.append(f"      given: {' && '.join(given)}")
    out.append(f"      via:  {chain_text(ctx, op, e)}")
    site = e.site
    out.append(f"      at:   {site.path}:{site.line}:{site.column}")
    return out


def _op(ctx: DriverContext, op: str, flags: int | None) -> list[str]:
    fn = ctx.function(op)
    entry = ctx.table.entry(op)
    if entry is None:
        return []
    label = f".{op}" + (f"(flags = {flags})" if flags is not None else "")
    if fn is None:
        return [f"  {label} = {entry.function}: no definition in the scanned tree"]
    names = dict(enumerate(fn.params))
    effects = ctx.effects(op, flags) or ()
    lines = [f"  {label} = {fn.name} ({fn.path}:{fn.line}), {len(effects)} effect(s):"]
    for e in effects:
        lines.extend(_effect(ctx, op, e, names))
    clears = ctx.clears(op, flags)
    lines.append(f"    => clears the upper layer's maps at {len(clears)} site(s)" + (":" if clears else ""))
    lines.extend(f"       {c.effect.site.path}:{c.effect.site.line}" for c in clears)
    unknown = ctx.unfollowed(op, flags)
    lines.append(f"    => {len(unknown)} call(s) it could not follow" + (":" if unknown else ""))
    lines.extend(f"       {u.site.path}:{u.site.line}: {u.why}" for u in unknown)
    return lines


def explain(paths: list[str], spec: str, rules: dict[str, Rule]) -> str:
    table_name, _, only = spec.partition(".")
    analysis = Analysis(paths, rules, set(rules))
    tables, _ = analysis.index.ops_tables()
    found: list[OpsTable] = [t for t in tables if t.name == table_name]
    if not found:
        known = ", ".join(sorted({t.name for t in tables})) or "none"
        raise InputError(f"no ops table {table_name!r} under {' '.join(paths)} (tables: {known})")
    if only and only not in OPS:
        raise InputError(f"{spec}: explain knows the ops {', '.join(OPS)}")
    index = analysis.index
    program = TreeProgram(index, analysis.kb)
    out: list[str] = []
    for table in found:
        ctx = DriverContext(table, index, program, index.api, _conditional_ops(table, index))
        program.keep_writes(frozenset(binding_state(ctx)))
        out.append(f"{table.name} ({table.path}:{table.line}); API: {index.api.describe()}")
        if table.configuration_of:
            out.append(
                f"  a configuration of {table.configuration_of}: {', '.join('.' + o for o in table.configured_ops)} "
                f"{ctx.configuration()}"
            )
        region = ctx.region()
        out.append(f"  upper layer's region (what .set_map/.dma_map write): {len(region)} range(s)")
        for w in region:
            if w is K.ANY_IOTLB:
                out.append("    any IOTLB, any range (an op's body is not in the tree or not followed)")
            else:
                out.append(
                    f"    {V.show(w.obj, {0: 'vdev'})} [{V.show(w.lo, {0: 'vdev'})}, {V.show(w.hi, {0: 'vdev'})}]"
                )
        for op in OPS:
            if only and op != only:
                continue
            flag_values: tuple[int | None, ...] = (
                (0, index.api.clean_map) if op == "compat_reset" else (None,)
            )
            for flags in flag_values:
                out.extend(_op(ctx, op, flags))
    return "\n".join(out) + "\n"
