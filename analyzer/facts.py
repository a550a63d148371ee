"""Facts of one C file: functions with their calls and writes, ops tables, defines.

Facts are plain frozen values with no parse tree inside, so they can be cached,
compared and handed to the engine without tree-sitter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analyzer.cexpr import Expr


@dataclass(frozen=True)
class Guard:
    """A condition that holds (or does not) whenever the guarded code runs."""

    expr: Expr
    holds: bool
    text: str
    line: int


@dataclass(frozen=True)
class Call:
    callee: str
    args: tuple[Expr, ...]
    arg_texts: tuple[str, ...]
    arg_paths: tuple[str, ...]  # member chain of each argument (`&d->a[i].b` -> "a.b")
    line: int
    column: int
    guards: tuple[Guard, ...] = ()
    indirect: bool = False  # through a function pointer (`ops->reset(v)`): never resolved


@dataclass(frozen=True)
class FieldWrite:
    """An assignment to a struct member: `dev->group2asid[g] = asid`."""

    key: str
    reads: frozenset[str]
    line: int
    column: int
    guards: tuple[Guard, ...] = ()


@dataclass(frozen=True)
class Function:
    name: str
    path: str
    line: int
    column: int
    end_line: int
    static: bool
    params: tuple[str, ...]
    calls: tuple[Call, ...]
    writes: tuple[FieldWrite, ...]
    # Locals assigned exactly once, in source order: their value in terms of params.
    locals: tuple[tuple[str, Expr], ...] = ()
    # Every local and the identifiers its assigned values read (for taint of `asid`).
    local_reads: tuple[tuple[str, frozenset[str]], ...] = ()
    gap_lines: tuple[int, ...] = ()  # lines tree-sitter could not parse, in every view


@dataclass(frozen=True)
class OpsEntry:
    op: str
    function: str | None  # None: `= NULL`, or a value that is not a plain function name
    line: int
    column: int
    value_text: str
    conditional: bool = False  # `IS_ENABLED(X) ? f : NULL` and the like


@dataclass(frozen=True)
class OpsTable:
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


@dataclass(frozen=True)
class OpsRuntimeClear:
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
    includes: tuple[str, ...] = ()
    config_ops_fields: tuple[str, ...] = ()  # fields of struct vdpa_config_ops, if defined here
    gap_lines: tuple[int, ...] = ()
    functions_by_name: dict[str, Function] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for fn in self.functions:
            self.functions_by_name.setdefault(fn.name, fn)
