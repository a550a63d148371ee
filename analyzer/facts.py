"""Facts of one C file: functions with their calls and writes, ops tables, defines.

Facts are plain frozen values with no parse tree inside, so they can be cached,
compared and handed to the engine without tree-sitter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from analyzer.cexpr import Expr


class Guard(NamedTuple):
    """A condition that holds (or does not) whenever the guarded code runs."""

    expr: Expr
    holds: bool
    text: str
    line: int


class Call(NamedTuple):
    callee: str
    args: tuple[Expr, ...]
    arg_texts: tuple[str, ...]
    arg_paths: tuple[str, ...]  # member chain of each argument (`&d->a[i].b` -> "a.b")
    line: int
    column: int
    guards: tuple[Guard, ...] = ()
    indirect: bool = False  # through a function pointer (`ops->reset(v)`): never resolved


class FieldWrite(NamedTuple):
    """An assignment to a struct member: `dev->group2asid[g] = asid`."""

    key: str
    reads: frozenset[str]
    line: int
    column: int
    guards: tuple[Guard, ...] = ()


class FunctionBody(NamedTuple):
    calls: tuple[Call, ...] = ()
    writes: tuple[FieldWrite, ...] = ()
    # Locals assigned exactly once, in source order: their value in terms of params.
    locals: tuple[tuple[str, Expr], ...] = ()
    # Every local and the identifiers its assigned values read (for taint of `asid`).
    local_reads: tuple[tuple[str, frozenset[str]], ...] = ()


@dataclass(frozen=True)
class Function:
    """A function definition. Its body is read from the syntax tree the first time
    it is needed: most functions of a driver are never on an analysed path."""

    name: str
    path: str
    line: int
    column: int
    end_line: int
    static: bool
    params: tuple[str, ...]
    gap_lines: tuple[int, ...] = ()  # lines tree-sitter could not parse, in every view
    source: FunctionBody | Callable[[], FunctionBody] = field(
        default_factory=FunctionBody, compare=False, repr=False
    )
    _cache: list[FunctionBody] = field(default_factory=list, compare=False, repr=False)

    @property
    def body(self) -> FunctionBody:
        if not self._cache:
            src = self.source
            self._cache.append(src if isinstance(src, FunctionBody) else src())
        return self._cache[0]

    @property
    def calls(self) -> tuple[Call, ...]:
        return self.body.calls

    @property
    def writes(self) -> tuple[FieldWrite, ...]:
        return self.body.writes

    @property
    def locals(self) -> tuple[tuple[str, Expr], ...]:
        return self.body.locals

    @property
    def local_reads(self) -> tuple[tuple[str, frozenset[str]], ...]:
        return self.body.local_reads


class OpsEntry(NamedTuple):
    op: str
    function: str | None  # None: `= NULL`, or a value that is not a plain function name
    line: int
    column: int
    value_text: str
    conditional: bool = False  # `IS_ENABLED(X) ? f : NULL` and the like


class OpsTable(NamedTuple):
    name: str
    path: str
    line: int
    column: int
    const: bool
    entries: tuple[OpsEntry, ...]
    gap_lines: tuple[int, ...] = ()

    def entry(self, op: str) -> OpsEntry | None:
        for e in self.entries:
            if e.op == op and e.function is not None:
                return e
        return None


class OpsRuntimeClear(NamedTuple):
    """`copy = table; ... copy.op = NULL;`: the op exists only on some devices."""

    table: str
    op: str
    path: str
    line: int
    column: int
    function: str


@dataclass(frozen=True)
class FileFacts:
    path: str
    functions: tuple[Function, ...] = ()
    tables: tuple[OpsTable, ...] = ()
    runtime_clears: tuple[OpsRuntimeClear, ...] = ()
    defines: tuple[tuple[str, int], ...] = ()
    config_ops_fields: tuple[str, ...] = ()  # fields of struct vdpa_config_ops, if defined here
    gap_lines: tuple[int, ...] = ()
    functions_by_name: dict[str, Function] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for fn in self.functions:
            self.functions_by_name.setdefault(fn.name, fn)
