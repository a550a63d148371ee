"""One ops table under analysis: its op functions, their instantiated effects, the upper
layer's region, and what each op path clears, binds or could not follow."""

from __future__ import annotations

import re
from typing import NamedTuple

from analyzer.api import VdpaApi
from analyzer.facts import Function, OpsRuntimeClear, OpsTable
from analyzer.findings import TraceStep
from analyzer.index import TreeIndex
from analyzer.model import ONCHIP_OPS
from analyzer.semantics import conds as C
from analyzer.semantics import contract as K
from analyzer.semantics import values as V
from analyzer.semantics.program import TreeProgram
from analyzer.semantics.summaries import Effect, instantiate

REGION_OPS = ("set_map", "dma_map")


class Issue(NamedTuple):
    rule_id: str
    path: str
    line: int
    column: int
    message: str
    trace: tuple[TraceStep, ...] = ()
    severity: str | None = None  # None: the rule's own


class Clear(NamedTuple):
    """A delete on an op's path that destroys the upper layer's maps."""

    effect: Effect
    written: K.Written


_CALLED_RE = re.compile(rb"\b(\w+)\s*\(")


class DriverContext:
    """One ops table under analysis: what its ops do, found as rules ask, each once."""

    def __init__(
        self,
        table: OpsTable,
        index: TreeIndex,
        program: TreeProgram,
        api: VdpaApi,
        conditional: dict[str, str] | None = None,  # op -> why it may be absent
    ) -> None:
        self.table = table
        self.index = index
        self.program = program
        self.api = api
        self.conditional = conditional if conditional is not None else {}
        self.not_applicable: dict[str, str] = {}
        self.missing: list[Issue] = []
        self._functions: dict[str, Function | None] = {}
        self._effects: dict[tuple[str, int | None], tuple[Effect, ...] | None] = {}
        self._region: tuple[K.Written, ...] | None = None
        self._windows: dict[str, tuple[Effect, ...]] = {}

    def function(self, op: str) -> Function | None:
        if op not in self._functions:
            entry = self.table.entry(op)
            fn = None
            if entry is not None and entry.function is not None:
                res = self.index.resolve(entry.function, self.table.path)
                fn = res.function
                if fn is None and res.problem is not None:
                    why = f"{res.problem.path}: {res.problem.message}"
                    self.missing.append(
                        Issue(
                            "VDPA000",
                            self.table.path,
                            entry.line,
                            entry.column,
                            f"{self.table.name}: cannot analyse .{op} = {entry.function}: {why}",
                        )
                    )
                elif fn is None and op in ("reset", "compat_reset", "set_group_asid"):
                    self.missing.append(
                        Issue(
                            "VDPA000",
                            self.table.path,
                            entry.line,
                            entry.column,
                            f"{self.table.name}: cannot analyse .{op} = {entry.function}: "
                            "no definition in the scanned tree",
                        )
                    )
            self._functions[op] = fn
        return self._functions[op]

    def effects(self, op: str, flags: int | None = None) -> tuple[Effect, ...] | None:
        """The live effects of an op called with its own parameters (for .compat_reset, with
        its flags fixed); None when the table has no such op or its body is not in the tree."""
        key = (op, flags)
        if key not in self._effects:
            fn = self.function(op)
            out: tuple[Effect, ...] | None = None
            if fn is not None:
                args: list[V.Value] = [("param", i) for i in range(max(len(fn.params), 1))]
                if flags is not None and len(args) > 1:
                    args[1] = V.const(flags)
                summaries = self.program.full if op == "set_group_asid" else self.program.summaries
                out = tuple(K.live(instantiate(summaries.of(fn), tuple(args))))
            self._effects[key] = out
        return self._effects[key]

    # -- whose maps -------------------------------------------------------------------------
    @property
    def onchip(self) -> tuple[str, ...]:
        return tuple(op for op in ONCHIP_OPS if self.table.entry(op) is not None)

    def region(self) -> tuple[K.Written, ...]:
        if self._region is None:
            ops = [op for op in REGION_OPS if self.table.entry(op) is not None]
            self._region = K.user_region(self.effects(op) for op in ops)
        return self._region

    def windows(self, e: Effect) -> tuple[Effect, ...]:
        """Adds of a kernel-owned window: done by a function of a file on the delete's trace
        that the upper layer's ops never call (VDUSE's vduse_domain_init_bounce_map)."""
        upper = {s.function for w in self.region() if w.effect is not None for s in w.effect.trace}
        upper |= {f.name for op in REGION_OPS for f in [self.function(op)] if f is not None}
        out: list[Effect] = []
        for path in dict.fromkeys(s.path for s in e.trace):
            if path not in self._windows:
                found: list[Effect] = []
                for fn in self._adders(path):
                    if fn.name not in upper:
                        found.extend(x for x in self.program.summaries.of(fn).effects if x.kind == "add")
                self._windows[path] = tuple(found)
            out.extend(self._windows[path])
        return tuple(out)

    def initial_passthrough(self) -> list[Effect]:
        """1:1 passthrough adds ([0, all ones] onto itself) done by the driver's creation code:
        functions of the table's file that no op of the table reaches (vdpasim_create)."""
        reached: set[str] = {
            f.name for op in self.table.entries for f in [self.function(op.op)] if f is not None
        }
        for op in ("reset", "compat_reset", "set_map", "dma_map", "reset_map", "set_group_asid"):
            for flags in (None, 0, self.api.clean_map):
                for e in self.effects(op, flags) or ():
                    reached.update(s.function for s in e.trace)
        out: list[Effect] = []
        for fn in self._adders(self.table.path):
            if fn.name not in reached:
                out.extend(e for e in self.program.summaries.of(fn).effects if K.identity_whole(e))
        return out

    def _adders(self, path: str) -> list[Function]:
        """The functions of a file that can add to an IOTLB: those whose text calls an adding
        primitive, and those calling them, within the file. Read from the source bytes (no graph
        is built for the rest of a 4,000-line driver); the summaries then say what they add."""
        facts = self.index.facts(path)
        data = self.index.raw(path)
        if facts is None or data is None:
            return []
        lines = data.split(b"\n")
        body = {fn.name: b"\n".join(lines[fn.line - 1 : fn.end_line]) for fn in facts.functions}
        adding = [
            n.encode()
            for n, p in self.program.kb.entries.items()
            if any(sig.kind == "adds" for sig in p.effects)
        ]
        found = {name for name, text in body.items() if any(a + b"(" in text for a in adding)}
        # What each function calls by name (`f (` and `f(`), read once; then callers of the
        # functions found join them until none does.
        calls = {name: {m.decode() for m in _CALLED_RE.findall(text)} for name, text in body.items()}
        grew = True
        while grew:
            grew = False
            for name, called in calls.items():
                if name not in found and not called.isdisjoint(found):
                    found.add(name)
                    grew = True
        return [fn for fn in facts.functions if fn.name in found]

    def clears(self, op: str, flags: int | None = None) -> list[Clear]:
        """Deletes on the op's path that overlap the upper layer's region."""
        out = []
        region = self.region()
        for e in self.effects(op, flags) or ():
            if e.kind != "delete":
                continue
            written = K.overlaps_region(e, region)
            if written is None:
                continue
            if (
                written is not K.ANY_IOTLB
                and not V.is_whole((e.lo, e.hi))
                and K.in_window(e, self.windows(e)) is not None
            ):
                continue
            out.append(Clear(e, written))
        return out

    def unfollowed(self, op: str, flags: int | None = None) -> list[Effect]:
        """Calls on the op's path that the analysis could not follow and that matter."""
        members = self.program.iotlb_members()
        return [
            e
            for e in self.effects(op, flags) or ()
            if e.kind == "gap" or (e.kind in ("unknown", "extern") and K.matters(e, members))
        ]

    def runtime_changes(self) -> list[tuple[frozenset[C.Lit], OpsRuntimeClear, dict[int, str]]]:
        """Ops a copy of this table is given at run time (NULL or another function), each with
        the literals that hold where it happens: `if (!caps.desc) ops.get_vq_desc_group = NULL`."""
        out = []
        facts = self.index.facts(self.table.path)
        for c in facts.runtime_clears if facts else ():
            if c.table != self.table.base:
                continue
            fn = facts.functions_by_name.get(c.function) if facts else None
            literals: frozenset[C.Lit] = frozenset()
            if fn is not None:
                for e in self.program.full.of(fn).effects:
                    if e.kind == "write" and e.site.line == c.line and e.site.shown is not None:
                        literals = e.site.shown.literals
            out.append((literals, c, dict(enumerate(fn.params)) if fn is not None else {}))
        return out

    def runtime_absent(self) -> dict[str, tuple[frozenset[C.Lit], OpsRuntimeClear, dict[int, str]]]:
        """Ops set to NULL at run time (the first place each is), with their literals."""
        out: dict[str, tuple[frozenset[C.Lit], OpsRuntimeClear, dict[int, str]]] = {}
        for literals, c, names in self.runtime_changes():
            if not c.value:
                out.setdefault(c.op, (literals, c, names))
        return out

    def configuration(self) -> str:
        """What makes this table a configuration of another: the `?:` entry chosen at build
        time, or where and under which conditions a copy's op is set at run time."""
        t = self.table
        if not t.configuration_of:
            return ""
        for literals, c, names in self.runtime_changes():
            if (c.path, c.line, c.column) == (t.path, t.line, t.column) and c.op in t.configured_ops:
                shown = " && ".join(C.show_literals(literals, names))
                return f"{t.configuration}, when {shown}" if shown else t.configuration
        return t.configuration

    def note(self, op: str) -> str:
        why = self.conditional.get(op)
        return f" (.{op} is conditional: {why})" if why else ""


def trace_of(ctx: DriverContext, op: str, e: Effect) -> tuple[TraceStep, ...]:
    """The chain from the table's initializer to the effect, file:line each."""
    entry = ctx.table.entry(op)
    fn = ctx.function(op)
    name = fn.name if fn is not None else (entry.function if entry and entry.function else op)
    steps = []
    if entry is not None:
        note = f".{op} = {name} in {ctx.table.name}"
        if op in ctx.table.configured_ops:
            note += f" ({ctx.configuration()})"
        steps.append(TraceStep(name, ctx.table.path, entry.line, entry.column, note))
    for n, s in enumerate(e.trace, 1):
        if e.kind == "gap" and n == len(e.trace):
            callee = s.callee.split(" (")[0]
            note = (
                f"{s.function} could not be parsed here"
                if callee == s.function
                else f"{s.function} calls {callee}, whose definition could not be analysed"
            )
            steps.append(TraceStep(s.function, s.path, s.line, s.column, note))
            continue
        note = f"{s.function} calls {s.callee}"
        if s.conditions:
            note += f" when {' && '.join(s.conditions)}"
        steps.append(TraceStep(s.callee.split(" (")[0], s.path, s.line, s.column, note))
    return tuple(steps)


def chain_text(ctx: DriverContext, op: str, e: Effect) -> str:
    fn = ctx.function(op)
    names = [fn.name if fn else op, *(s.callee.split(" (")[0] for s in e.trace)]
    if e.kind == "write":  # the last step is the member written, not a call
        return " -> ".join(names[:-1]) + f"() writes {names[-1]}"
    return " -> ".join(names) + "()"
