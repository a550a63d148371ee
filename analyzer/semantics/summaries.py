"""Function summaries: what a function does, in terms of its parameters.

A summary is computed once per function from its control-flow graph and reused at
every call site (Smatch keeps one such record per function, with `$`-relative keys).
Each effect says which object (an access path over the parameters), which range,
under which path condition, and through which chain of calls. A call site
instantiates the callee's summary: parameters become the arguments' values, and
conditions that become constant are decided there (`compat_reset(vdev, 0)`).

Recursion is handled per strongly connected component: a function whose result
depended on a summary still being computed is provisional and never memoised; the
head of the cycle iterates until its summary stops changing. No verdict depends on
the order in which tables or functions are visited.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol

from analyzer.semantics import conds as C
from analyzer.semantics import values as V
from analyzer.semantics.conds import Cond
from analyzer.semantics.graph import Cfg
from analyzer.semantics.kb import KnowledgeBase
from analyzer.semantics.values import Value

INF = 1 << 30
MAX_ROUNDS = 4  # dataflow passes for loops: enough for the loops drivers write
MAX_SCC_ITERATIONS = 8
MAX_VALUE_SIZE = 48


class Shown(NamedTuple):
    """Literals known to hold at a call site, rendered only when a trace is shown."""

    literals: frozenset[C.Lit]
    params: tuple[str, ...]

    def text(self) -> tuple[str, ...]:
        return C.show_literals(self.literals, dict(enumerate(self.params)))

    def __lt__(self, other: object) -> bool:  # traces compare by position, never by this
        return False


class Site(NamedTuple):
    """One call in a trace: `function` at path:line:column calls `callee`."""

    function: str
    path: str
    line: int
    column: int
    callee: str
    shown: Shown | None = None  # local conditions known at this site

    @property
    def conditions(self) -> tuple[str, ...]:
        return self.shown.text() if self.shown is not None else ()


class Effect(NamedTuple):
    kind: str  # delete add bind write drop_reference unknown gap extern
    obj: Value  # the IOTLB (delete, add), the state (write, bind), the pointer (unknown)
    lo: Value
    hi: Value
    value: Value  # add: the address mapped; bind/write: the value stored
    cond: Cond  # path condition over the function's parameters
    trace: tuple[Site, ...]  # outermost call first; the last is where it happens
    order: tuple[int, ...]  # position along the function's paths, for ordering effects
    why: str = ""  # unknown/gap: why; extern: the callee
    args: tuple[Value, ...] = ()  # unknown/extern: the call's arguments

    @property
    def site(self) -> Site:
        return self.trace[-1]

    def key(self) -> tuple[Any, ...]:
        """Effects at one site on the same object and range are one effect (conditions OR'ed,
        the shortest trace kept): summaries stay as small as the code they describe."""
        if self.kind == "write":  # VDPA008 asks which members are written, and from what
            ch = V.chain(self.obj)
            # A named function or NULL stored is told apart (a copied ops table's members set
            # to one function under one condition and to NULL under another: each keeps its
            # own site and conditions); other values are not, so summaries stay bounded.
            stored = self.value if self.value == V.ZERO or self.value[:1] == ("id",) else None
            return (self.kind, ch[-1] if ch else repr(self.obj), V.mentions_param(self.value), stored)
        if self.kind == "extern":  # whether it matters depends on what it is passed
            return (
                self.kind,
                self.why,
                tuple(V.chain(a) if V.root(a) == ("param", 0) else None for a in self.args),
            )
        s = self.trace[-1]
        return (self.kind, s.path, s.line, s.column, self.obj, self.lo, self.hi, self.value)


class Summary(NamedTuple):
    effects: tuple[Effect, ...]
    ret: Value | None  # the return value over the parameters, when small enough to keep


EMPTY = Summary((), None)


class FunctionLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def line(self) -> int: ...
    @property
    def cfg(self) -> Cfg: ...


class Program(Protocol):
    """What summaries need of the tree: name resolution, the knowledge base, constants."""

    kb: KnowledgeBase

    def resolve(self, name: str, caller: FunctionLike) -> tuple[FunctionLike | None, str | None]: ...
    def is_iotlb_api(self, name: str) -> bool: ...
    def iotlb_members(self) -> frozenset[str]: ...
    def pointer_targets(
        self, pointer: Value, fn: FunctionLike, nargs: int
    ) -> list[tuple[FunctionLike, str]]: ...
    def work_handlers(self, work: Value, fn: FunctionLike) -> list[tuple[FunctionLike, str]]: ...
    def constants(self, fn: FunctionLike) -> Mapping[str, int]: ...
    def macro_note(self, fn: FunctionLike) -> str: ...


def _targets(term: tuple[Any, ...]) -> tuple[int, ...]:
    kind = term[0]
    if kind == "jump":
        return (term[1],)
    if kind == "branch":
        return (term[2], term[3])
    if kind == "switch":
        return (*(n for _, n in term[2]), term[3])
    if kind == "any":
        return tuple(term[1])
    return ()


def _rpo(succs: list[tuple[int, ...]]) -> tuple[list[int], set[tuple[int, int]]]:
    """Reverse postorder from node 0, and the back edges (to a node on the DFS stack)."""
    seen: set[int] = set()
    on_stack: set[int] = set()
    post: list[int] = []
    back: set[tuple[int, int]] = set()
    stack: list[tuple[int, int]] = [(0, 0)]
    seen.add(0)
    on_stack.add(0)
    while stack:
        n, i = stack[-1]
        if i < len(succs[n]):
            stack[-1] = (n, i + 1)
            m = succs[n][i]
            if m in on_stack:
                back.add((n, m))
            elif m not in seen:
                seen.add(m)
                on_stack.add(m)
                stack.append((m, 0))
        else:
            stack.pop()
            on_stack.discard(n)
            post.append(n)
    return list(reversed(post)), back


class Summaries:
    """Bottom-up summaries over one tree, memoised once final."""

    def __init__(self, program: Program, writes: frozenset[str] | None = None) -> None:
        """writes: the members whose writes to keep (None: every member, as .set_group_asid's
        binding state needs). The other paths only need the members it binds (VDPA008)."""
        self.program = program
        self.writes = writes
        # Told how each call site on a summarised path was handled (benchmarks/follow_coverage.py).
        self.observe: Callable[[Site, str], None] | None = None
        self.done: dict[tuple[str, str, int], Summary] = {}
        self.partial: dict[tuple[str, str, int], Summary] = {}
        self.on_stack: dict[tuple[str, str, int], int] = {}
        self.heads: set[tuple[str, str, int]] = set()

    def keeps_write(self, obj: Value) -> bool:
        """Whether a write to this member is kept in these summaries (see `writes`)."""
        if self.writes is None:
            return True
        ch = V.chain(obj)
        return bool(ch) and ch[-1] in self.writes  # type: ignore[index]

    def of(self, fn: FunctionLike) -> Summary:
        return self._summary(fn)[0]

    def _summary(self, fn: FunctionLike) -> tuple[Summary, int]:
        key = (fn.path, fn.name, fn.line)
        if key in self.done:
            return self.done[key], INF
        if key in self.on_stack:
            self.heads.add(key)
            return self.partial.get(key, EMPTY), self.on_stack[key]
        pos = len(self.on_stack)
        self.on_stack[key] = pos
        try:
            for _ in range(MAX_SCC_ITERATIONS):
                summary, low = _Pass(self, fn).run()
                if key not in self.heads:
                    break
                if self.partial.get(key) == summary:
                    break
                self.partial[key] = summary
            else:
                summary = _unsettled(summary, fn)
        finally:
            del self.on_stack[key]
        self.heads.discard(key)
        self.partial.pop(key, None)
        if low >= pos:
            self.done[key] = summary
            return summary, INF
        return summary, low


def _effect_order(e: Effect) -> tuple[Any, ...]:
    return (e.order, e.trace, e.kind, repr(e.key()))


def _unsettled(summary: Summary, fn: FunctionLike) -> Summary:
    site = Site(fn.name, fn.path, fn.line, 1, fn.name)
    why = "recursion through this function did not settle"
    extra = Effect("unknown", V.unknown(why), V.ZERO, V.ZERO, V.ZERO, C.TRUE, (site,), (), why)
    return Summary((*summary.effects, extra), summary.ret)


class _Pass:
    """The dataflow over one function's graph: locals' values and path conditions per node,
    then every event instantiated under them."""

    def __init__(self, owner: Summaries, fn: FunctionLike) -> None:
        self.owner = owner
        self.program = owner.program
        self.fn = fn
        self.cfg = fn.cfg
        self.names = dict(enumerate(self.cfg.params))
        self.consts = self.program.constants(fn)
        self.low = INF
        self.memo: dict[tuple[Value, tuple[Value, ...]], Value] = {}

    def run(self) -> tuple[Summary, int]:
        nodes = self.cfg.nodes
        succs = [_targets(n.term) for n in nodes]
        order, back = _rpo(succs)
        kills: dict[int, set[str]] = {}
        # Rounds settle what loops change; only the last one, once nothing grows, lifts the
        # callees' effects (the expensive part).
        self.lifting = not back
        for _ in range(MAX_ROUNDS):
            effects, rets, envs_out, envs_in = self._walk(order, back, succs, kills)
            if self.lifting:
                break
            grew = False
            for u, h in back:
                changed = {
                    var
                    for var in set(envs_out.get(u, {})) | set(envs_in.get(h, {}))
                    if envs_out.get(u, {}).get(var) != envs_in.get(h, {}).get(var)
                }
                if not changed <= kills.get(h, set()):
                    kills.setdefault(h, set()).update(changed)
                    grew = True
            if not grew:
                self.lifting = True
        if not self.lifting:
            self.lifting = True
            effects, rets, envs_out, envs_in = self._walk(order, back, succs, kills)
        ret = self._return_value(rets)
        ordered = tuple(sorted(effects.values(), key=_effect_order))
        return Summary(ordered, ret), self.low

    # -- values ---------------------------------------------------------------------------
    def resolve(self, v: Value, env: Mapping[str, Value], results: Mapping[int, Value]) -> Value:
        kind = v[0]
        if kind == "var":
            return env.get(v[1], V.unknown(f"{v[1]} is not set on this path"))
        if kind == "ret":
            return results.get(v[1], V.unknown("result of a call not followed"))
        if kind == "id":
            c = self.consts.get(v[1])
            return V.const(c) if c is not None else v
        if kind in ("int", "param", "unk", "C", "callv"):
            return v
        out: list[Any] = [kind]
        for part in v[1:]:
            out.append(self.resolve(part, env, results) if isinstance(part, tuple) else part)
        return V.fold(tuple(out), C.truth)

    def _guards(
        self, guards: tuple[tuple[Value, bool], ...], env: Mapping[str, Value], results: Mapping[int, Value]
    ) -> Cond:
        out = C.TRUE
        for value, holds in guards:
            out = C.and_(out, C.of_value(self.resolve(value, env, results), holds))
        return out

    def _merge(self, ins: list[tuple[Cond, dict[str, Value]]]) -> dict[str, Value]:
        if len(ins) == 1:
            return dict(ins[0][1])
        names = set().union(*(env.keys() for _, env in ins))
        out: dict[str, Value] = {}
        for name in names:
            vals = [(c, env.get(name, V.unknown(f"{name} is not set on every path"))) for c, env in ins]
            first = vals[0][1]
            if all(v == first for _, v in vals):
                out[name] = first
                continue
            acc = vals[-1][1]
            conds = [c for c, _ in vals]
            for i in range(len(vals) - 2, -1, -1):
                c, v = vals[i]
                if v == acc:
                    continue
                # Conditions are exact only over what callers can decide: select by them only
                # when they exclude each other, else the value depends on an unknown path.
                exclusive = all(not C.and_(c, o) for j, o in enumerate(conds) if j != i)
                selector = C.as_value(c) if exclusive else V.unknown(f"which path set {name}")
                acc = ("cond", selector, v, acc)
            out[name] = (
                acc if V.size(acc, MAX_VALUE_SIZE) <= MAX_VALUE_SIZE else V.unknown(f"{name} differs by path")
            )
        return out

    # -- the walk -------------------------------------------------------------------------
    def _walk(
        self,
        order: list[int],
        back: set[tuple[int, int]],
        succs: list[tuple[int, ...]],
        kills: dict[int, set[str]],
    ) -> tuple[
        dict[Any, Effect],
        list[tuple[Cond, Value | None]],
        dict[int, dict[str, Value]],
        dict[int, dict[str, Value]],
    ]:
        nodes = self.cfg.nodes
        incoming: dict[int, list[tuple[Cond, frozenset[C.Lit], dict[str, Value]]]] = {}
        envs_out: dict[int, dict[str, Value]] = {}
        envs_in: dict[int, dict[str, Value]] = {}
        effects: dict[Any, Effect] = {}
        rets: list[tuple[Cond, Value | None]] = []
        results: dict[int, Value] = {}
        position = {n: i for i, n in enumerate(order)}
        for n in order:
            must: frozenset[C.Lit] = frozenset()
            if n == 0:
                cond: Cond = C.TRUE
                env = {p: ("param", i) for i, p in enumerate(self.cfg.params)}
            else:
                ins = [(c, m, e) for c, m, e in incoming.get(n, []) if c]
                if not ins:
                    cond, env = C.FALSE, {}
                else:
                    cond = C.FALSE
                    for c, _, _ in ins:
                        cond = C.or_(cond, c)
                    must = frozenset.intersection(*(m for _, m, _ in ins))
                    env = self._merge([(c, e) for c, _, e in ins])
            for var in kills.get(n, ()):
                env[var] = V.unknown(f"{var} changes in a loop")
            envs_in[n] = dict(env)
            node = nodes[n]
            if cond:
                for i, event in enumerate(node.events):
                    self._event(event, cond, must, env, results, effects, (position[n], i))
            envs_out[n] = env
            self._terminate(n, node.term, cond, must, env, results, incoming, rets, back)
        return effects, rets, envs_out, envs_in

    def _terminate(
        self,
        n: int,
        term: tuple[Any, ...],
        cond: Cond,
        must: frozenset[C.Lit],
        env: dict[str, Value],
        results: dict[int, Value],
        incoming: dict[int, list[tuple[Cond, frozenset[C.Lit], dict[str, Value]]]],
        rets: list[tuple[Cond, Value | None]],
        back: set[tuple[int, int]],
    ) -> None:
        def send(target: int, c: Cond, m: frozenset[C.Lit] = must) -> None:
            if (n, target) not in back:
                incoming.setdefault(target, []).append((c, m, env))

        kind = term[0]
        if kind == "jump":
            send(term[1], cond)
        elif kind == "branch":
            value = self.resolve(term[1], env, results)
            send(
                term[2], C.and_(cond, C.of_value(value, True)) if cond else C.FALSE, must | C.literals(value)
            )
            send(
                term[3],
                C.and_(cond, C.of_value(value, False)) if cond else C.FALSE,
                must | C.literals(value, False),
            )
        elif kind == "switch":
            value = self.resolve(term[1], env, results)
            others = cond
            for case_value, target in term[2]:
                same = ("bin", "==", value, self.resolve(case_value, env, results))
                send(
                    target, C.and_(cond, C.of_value(same, True)) if cond else C.FALSE, must | C.literals(same)
                )
                others = C.and_(others, C.of_value(same, False)) if others else C.FALSE
            send(term[3], others)
        elif kind == "any":
            for target in term[1]:
                send(target, cond)
        elif kind == "return" and cond:
            rets.append((cond, None if term[1] is None else self.resolve(term[1], env, results)))
        elif kind == "exit" and cond:
            rets.append((cond, None))

    def _return_value(self, rets: list[tuple[Cond, Value | None]]) -> Value | None:
        if not rets or any(v is None for _, v in rets):
            return None
        values = [v for _, v in rets if v is not None]
        if all(v == values[0] for v in values):
            return values[0]
        acc = values[-1]
        for c, v in reversed(rets[:-1]):
            assert v is not None
            acc = ("cond", C.as_value(c), v, acc)
        return acc if V.size(acc, MAX_VALUE_SIZE) <= MAX_VALUE_SIZE else None

    def _must(
        self,
        must: frozenset[C.Lit],
        guards: tuple[tuple[Value, bool], ...],
        env: Mapping[str, Value],
        results: Mapping[int, Value],
    ) -> frozenset[C.Lit]:
        for value, holds in guards:
            must = must | C.literals(self.resolve(value, env, results), holds)
        return must

    def _site(self, line: int, column: int, callee: str, must: frozenset[C.Lit]) -> Site:
        return Site(self.fn.name, self.fn.path, line, column, callee, Shown(must, self.cfg.params))

    def _add(self, effects: dict[Any, Effect], e: Effect) -> None:
        if not e.cond:
            return
        k = e.key()
        old = effects.get(k)
        if old is None:
            effects[k] = e
            return
        best = min(old, e, key=lambda x: (len(x.trace), x.trace, x.order))
        effects[k] = best._replace(cond=C.or_(old.cond, e.cond))

    def _event(
        self,
        event: tuple[Any, ...],
        cond: Cond,
        must: frozenset[C.Lit],
        env: dict[str, Value],
        results: dict[int, Value],
        effects: dict[Any, Effect],
        order: tuple[int, int],
    ) -> None:
        kind = event[0]
        if kind == "set":
            _, name, value, guards = event
            new = self.resolve(value, env, results)
            if guards:
                g = self._guards(guards, env, results)
                new = ("cond", C.as_value(g), new, env.get(name, V.unknown(f"{name} not set")))
            # A value built up statement by statement (`y = y + x;` a thousand times) is
            # widened as the merge widens, before walking it would outgrow the stack.
            env[name] = (
                new if V.size(new, MAX_VALUE_SIZE) <= MAX_VALUE_SIZE else V.unknown(f"{name} too complex")
            )
        elif kind == "write":
            _, target, value, line, column, guards = event
            here = C.and_(cond, self._guards(guards, env, results))
            obj = self.resolve(target, env, results)
            stored = self.resolve(value, env, results)
            if not self.owner.keeps_write(obj):
                return
            site = self._site(line, column, V.show(obj, self.names), self._must(must, guards, env, results))
            self._add(effects, Effect("write", obj, V.ZERO, V.ZERO, stored, here, (site,), order))
        elif kind == "gap":
            site = Site(self.fn.name, self.fn.path, event[1], 1, self.fn.name)
            why = f"{self.fn.name}() could not be fully parsed at line {event[1]}"
            self._add(
                effects, Effect("gap", V.unknown(why), V.ZERO, V.ZERO, V.ZERO, cond, (site,), order, why)
            )
        elif kind == "call":
            self._call(event, cond, must, env, results, effects, order)
        elif kind == "opaque":  # a macro whose body cannot be read as C
            site = Site(self.fn.name, self.fn.path, event[1][1], 1, self.fn.name)
            why = f"the body of macro {self.fn.name} cannot be read as C (defined at {self.fn.path}:{self.fn.line})"
            args = tuple(("param", i) for i in range(len(self.cfg.params)))
            self._add(
                effects,
                Effect("unknown", V.unknown(why), V.ZERO, V.ZERO, V.ZERO, cond, (site,), order, why, args),
            )

    def _call(
        self,
        event: tuple[Any, ...],
        cond: Cond,
        must: frozenset[C.Lit],
        env: dict[str, Value],
        results: dict[int, Value],
        effects: dict[Any, Effect],
        order: tuple[int, int],
    ) -> None:
        _, k, name, pointer, arg_values, line, column, guards, shown = event
        here = C.and_(cond, self._guards(guards, env, results))
        args = tuple(self.resolve(a, env, results) for a in arg_values)
        results[k] = ("callv", shown, args)
        if not here:
            return
        site = self._site(line, column, shown, self._must(must, guards, env, results))
        seen = self.owner.observe if self.lifting else None
        if pointer is not None:
            ptr = self.resolve(pointer, env, results)
            targets = self.program.pointer_targets(ptr, self.fn, len(args))
            if targets:
                if seen:
                    seen(site, "followed through a pointer")
                for target, how in targets:
                    via = site._replace(callee=f"{target.name} ({how})")
                    self._follow(target, args, here, via, order, effects, results, k)
                return
            why = f"call through a function pointer ({shown}) that nothing in the tree is stored in"
            if seen:
                seen(site, "unknown: call through a pointer")
            self._add(
                effects, Effect("unknown", ptr, V.ZERO, V.ZERO, V.ZERO, here, (site,), order, why, args)
            )
            return
        program = self.program
        prim = program.kb.get(name)
        if prim is not None:
            if seen:
                seen(site, "modelled by the knowledge base")
            for inst in program.kb.apply(prim, args):
                if inst.kind == "defers":
                    self._defer(inst.obj, name, here, site, order, effects, results, k)
                    continue
                kind = {"deletes": "delete", "adds": "add", "binds": "bind", "writes": "write"}.get(
                    inst.kind, inst.kind
                )
                self._add(
                    effects, Effect(kind, inst.obj, inst.lo, inst.hi, inst.value, here, (site,), order, name)
                )
            ret = program.kb.returned(prim, args)
            if ret is not None:
                results[k] = ret
            return
        callee, problem = program.resolve(name, self.fn)
        if seen:
            seen(site, self._category(name, callee, problem, args))
        if callee is not None:
            note = program.macro_note(callee)
            if note:
                site = site._replace(callee=f"{shown} ({note})")
            self._follow(callee, args, here, site, order, effects, results, k)
            return
        if problem is not None:
            why = f"cannot analyse {name}(): {problem}"
            self._add(
                effects, Effect("gap", V.unknown(why), V.ZERO, V.ZERO, V.ZERO, here, (site,), order, why)
            )
        elif program.is_iotlb_api(name):
            why = f"{name}() is IOTLB API the knowledge base does not describe"
            self._add(
                effects,
                Effect("unknown", V.unknown(why), V.ZERO, V.ZERO, V.ZERO, here, (site,), order, why, args),
            )
        elif any(self._reaches_iotlb(a) for a in args):
            self._add(
                effects, Effect("extern", V.ZERO, V.ZERO, V.ZERO, V.ZERO, here, (site,), order, name, args)
            )

    def _follow(
        self,
        callee: FunctionLike,
        args: tuple[Value, ...],
        here: Cond,
        site: Site,
        order: tuple[int, int],
        effects: dict[Any, Effect],
        results: dict[int, Value],
        k: int,
    ) -> None:
        summary, low = self.owner._summary(callee)
        self.low = min(self.low, low)
        if self.lifting:
            self._lift(summary, args, here, site, order, effects)
        if summary.ret is not None:
            results[k] = self._instantiate_value(summary.ret, args)

    def _defer(
        self,
        work: Value,
        name: str,
        here: Cond,
        site: Site,
        order: tuple[int, int],
        effects: dict[Any, Effect],
        results: dict[int, Value],
        k: int,
    ) -> None:
        """queue_work and friends: the handler bound to the work item runs, on behalf of the op."""
        handlers = self.program.work_handlers(work, self.fn)
        for handler, how in handlers:
            via = site._replace(callee=f"{handler.name} ({how})")
            self._follow(handler, (work,), here, via, order, effects, results, k)
        if not handlers:
            why = f"{name}() queues a work item that no INIT_WORK in the tree binds to a handler"
            self._add(
                effects, Effect("unknown", work, V.ZERO, V.ZERO, V.ZERO, here, (site,), order, why, (work,))
            )

    def _category(
        self, name: str, callee: FunctionLike | None, problem: str | None, args: tuple[Value, ...]
    ) -> str:
        if callee is not None:
            return "followed (macro expanded)" if self.program.macro_note(callee) else "followed"
        if problem is not None:
            return "unknown: its file cannot be read"
        if self.program.is_iotlb_api(name):
            return "unknown: IOTLB API the knowledge base does not describe"
        if any(self._reaches_iotlb(a) for a in args):
            return "no body in the tree; passed what may reach an IOTLB"
        return "no body in the tree; cannot reach an IOTLB"

    def _reaches_iotlb(self, a: Value) -> bool:
        """An argument through which a callee could reach an IOTLB: a parameter itself (the
        device, at the op), or a member whose type holds an IOTLB. Member chains only grow
        as effects are lifted to callers, so their last member decides it here."""
        r = V.root(a)
        if r is None or r[0] != "param":
            return False
        ch = V.chain(a)
        return ch is not None and (not ch or ch[-1] in self.program.iotlb_members())

    def _instantiate_value(self, v: Value, args: tuple[Value, ...]) -> Value:
        kind = v[0]
        if kind in ("int", "unk", "id"):
            return v
        if kind == "param":
            i = v[1]
            return args[i] if i < len(args) else V.unknown(f"argument {i + 1} not passed")
        key = (v, args)
        hit = self.memo.get(key)
        if hit is None:
            out = substituted(v, args)
            hit = out if V.size(out, MAX_VALUE_SIZE) <= MAX_VALUE_SIZE else V.unknown("value too complex")
            self.memo[key] = hit
        return hit

    def _lift(
        self,
        summary: Summary,
        args: tuple[Value, ...],
        here: Cond,
        site: Site,
        order: tuple[int, ...],
        effects: dict[Any, Effect],
        prefix: tuple[Site, ...] = (),
    ) -> None:
        for e in summary.effects:
            if e.kind == "write" and not self.owner.keeps_write(e.obj):
                continue
            c = C.and_(here, C.substitute(e.cond, args))
            if not c:
                continue
            inst = self._instantiate_value
            pointer_call = e.kind == "unknown" and e.why.startswith("call through a function pointer")
            if pointer_call and self._callback(e, args, c, site, order, effects, prefix):
                continue
            lifted = Effect(
                e.kind,
                inst(e.obj, args),
                inst(e.lo, args),
                inst(e.hi, args),
                inst(e.value, args),
                c,
                (*prefix, site, *e.trace),
                (*order, *e.order),
                e.why,
                tuple(inst(a, args) for a in e.args),
            )
            self._add(effects, lifted)

    def _callback(
        self,
        e: Effect,
        args: tuple[Value, ...],
        cond: Cond,
        site: Site,
        order: tuple[int, ...],
        effects: dict[Any, Effect],
        prefix: tuple[Site, ...],
    ) -> bool:
        """A pointer the callee could not resolve, because it is one of its parameters: here
        the caller's argument may name the function (`pt_run(d, pt_cb_clear)` -> `cb(d)`)."""
        pointer = self._instantiate_value(e.obj, args)
        call_args = tuple(self._instantiate_value(a, args) for a in e.args)
        targets = self.program.pointer_targets(pointer, self.fn, len(call_args))
        if not targets:
            return False
        last = e.trace[-1]
        for target, how in targets:
            summary, low = self.owner._summary(target)
            self.low = min(self.low, low)
            via = last._replace(callee=f"{target.name} ({how})")
            # this call site, the callee's path to the pointer call, then the target's effects
            self._lift(
                summary, call_args, cond, via, (*order, *e.order), effects, (*prefix, site, *e.trace[:-1])
            )
        return True


def substituted(v: Value, args: tuple[Value, ...]) -> Value:
    """A callee's value with its parameters replaced by a call's arguments, folded."""
    return V.fold(V.substitute(v, args, lambda c: C.substitute(c, args)), C.truth)


def instantiate(summary: Summary, args: tuple[Value, ...]) -> tuple[Effect, ...]:
    """A summary's effects for a call with these argument values (an op called by the core)."""
    out = []
    for e in summary.effects:
        c = C.substitute(e.cond, args)
        if not c:
            continue

        def inst(v: Value) -> Value:
            return substituted(v, args)

        out.append(
            e._replace(
                obj=inst(e.obj),
                lo=inst(e.lo),
                hi=inst(e.hi),
                value=inst(e.value),
                cond=c,
                args=tuple(inst(a) for a in e.args),
            )
        )
    return tuple(out)
