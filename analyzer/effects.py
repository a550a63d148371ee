"""What an op can do: walk the call graph from an op's function, with constants.

Constant arguments flow into callees (`reset()` -> `compat_reset(vdev, 0)`), and a
call whose guard is known false under them is dead (SPEC §3). Every effect found
carries the chain of calls that reaches it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from analyzer.cexpr import evaluate
from analyzer.facts import Call, Function, Guard
from analyzer.index import TreeIndex
from analyzer.knowledge import KnowledgeBase
from analyzer.source import SourceProblem

MAX_DEPTH = 24  # deeper chains than any driver's reset path; stops runaway recursion


class Step(NamedTuple):
    """One call in a trace: `function` at path:line calls `callee`."""

    function: str
    path: str
    line: int
    column: int
    callee: str
    conditions: tuple[str, ...] = ()  # guards that may or may not hold here


class Reach(NamedTuple):
    """An effect reachable from the walk's start, with the calls leading to it."""

    effect: str  # a knowledge-base effect, "write" for a member write, or "gap"
    primitive: str  # the primitive called, the member written, or the function with a gap
    trace: tuple[Step, ...]
    state: str | None = None  # member chain written, for writes
    problem: SourceProblem | None = None

    @property
    def site(self) -> Step:
        return self.trace[-1]


Env = tuple[tuple[str, int], ...]


def negate(cond: str) -> str:
    """`!(x)` for display, without stacking `!(!x)`."""
    if cond.startswith("!(") and cond.endswith(")") and _balanced(cond[2:-1]):
        return cond[2:-1]
    if cond.startswith("!") and not cond.startswith("!=") and _balanced(cond[1:]) and " " not in cond:
        return cond[1:]
    return f"!({cond})"


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


class EffectWalker:
    def __init__(self, index: TreeIndex, kb: KnowledgeBase) -> None:
        self.index = index
        self.kb = kb
        self._memo: dict[tuple[str, str, Env], tuple[Reach, ...]] = {}
        self._constants = dict(index.api.constants)

    def reach(self, fn: Function, env: Mapping[str, int]) -> tuple[Reach, ...]:
        return self._walk(fn, tuple(sorted(env.items())), set(), 0)

    def _full_env(self, fn: Function, env: Env) -> dict[str, int]:
        facts = self.index.facts(fn.path)
        full = dict(self._constants)
        if facts is not None:
            full.update(facts.defines)
        params = dict(env)
        for p in fn.params:
            full.pop(p, None)  # a parameter shadows a macro of the same name
        full.update(params)
        for name, expr in fn.locals:
            if name in fn.params:
                continue
            value = evaluate(expr, full)
            if value is None:
                full.pop(name, None)
            else:
                full[name] = value
        return full

    def _walk(self, fn: Function, env: Env, active: set[tuple[str, str]], depth: int) -> tuple[Reach, ...]:
        key = (fn.path, fn.name, env)
        if key in self._memo:
            return self._memo[key]
        if (fn.path, fn.name) in active or depth > MAX_DEPTH:
            return ()
        active.add((fn.path, fn.name))
        full = self._full_env(fn, env)
        out: list[Reach] = []
        if fn.gap_lines:
            here = Step(fn.name, fn.path, fn.gap_lines[0], 1, fn.name)
            out.append(Reach("gap", fn.name, (here,)))
        for w in fn.writes:
            if self._live(w.guards, full) is not None:
                step = Step(fn.name, fn.path, w.line, w.column, w.key)
                out.append(Reach("write", w.key, (step,), state=w.key))
        for call in fn.calls:
            if call.indirect:
                continue  # a function pointer: the knowledge base cannot say what it points to
            conditions = self._live(call.guards, full)
            if conditions is None:
                continue
            out.extend(self._call(fn, call, full, conditions, active, depth))
        active.discard((fn.path, fn.name))
        result = tuple(out)
        self._memo[key] = result
        return result

    @staticmethod
    def _live(guards: tuple[Guard, ...], env: Mapping[str, int]) -> tuple[str, ...] | None:
        """None when a guard is known false; else the guards not known either way."""
        unknown: list[str] = []
        for g in guards:
            value = evaluate(g.expr, env)
            if value is None:
                unknown.append(g.text if g.holds else negate(g.text))
            elif bool(value) != g.holds:
                return None
        return tuple(unknown)

    def _call(
        self,
        fn: Function,
        call: Call,
        env: Mapping[str, int],
        conditions: tuple[str, ...],
        active: set[tuple[str, str]],
        depth: int,
    ) -> list[Reach]:
        step = Step(fn.name, fn.path, call.line, call.column, call.callee, conditions)
        prim = self.kb.get(call.callee)
        if prim is not None:
            state = prim.state_key(call)
            return [Reach(e, call.callee, (step,), state=state) for e in prim.effects_of(call, env)]
        res = self.index.resolve(call.callee, fn.path)
        if res.problem is not None:
            return [Reach("gap", call.callee, (step,), problem=res.problem)]
        callee = res.function
        if callee is None:
            return []
        callee_env: dict[str, int] = {}
        for param, arg in zip(callee.params, call.args, strict=False):
            value = evaluate(arg, env)
            if value is not None:
                callee_env[param] = value
        inner = self._walk(callee, tuple(sorted(callee_env.items())), active, depth + 1)
        return [Reach(r.effect, r.primitive, (step, *r.trace), r.state, r.problem) for r in inner]
