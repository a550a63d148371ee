"""Facts of one C file: functions (with their control-flow graphs), ops tables, defines, macros.

Facts are plain frozen values with no parse tree inside, so they can be cached,
compared and handed to the engine without tree-sitter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from analyzer.semantics.graph import Cfg, CfgNode


@dataclass(frozen=True)
class Function:
    """A function definition (or a function-like macro, read as one). Its control-flow
    graph is built from the syntax tree the first time it is needed: most functions of a
    driver are never on an analysed path."""

    name: str
    path: str
    line: int
    column: int
    end_line: int
    static: bool
    params: tuple[str, ...]
    gap_lines: tuple[int, ...] = ()  # lines tree-sitter could not parse, in every view
    source: Cfg | Callable[[], Cfg] | None = field(default=None, compare=False, repr=False)
    macro: bool = False  # a function-like #define, analysed with its arguments substituted
    param_types: tuple[str, ...] = ()  # the struct each parameter points to ("" when not a struct)
    _cache: list[Cfg] = field(default_factory=list, compare=False, repr=False)

    @property
    def cfg(self) -> Cfg:
        if not self._cache:
            src = self.source
            if src is None:
                self._cache.append(Cfg(self.params, (CfgNode((), ("exit",), self.line),), 0))
            else:
                self._cache.append(src if isinstance(src, Cfg) else src())
        return self._cache[0]


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
    macros: tuple[Function, ...] = ()  # function-like #defines
    iotlb_fields: tuple[str, ...] = ()  # struct members declared as a struct vhost_iotlb (pointer)
    functions_by_name: dict[str, Function] = field(default_factory=dict, compare=False, repr=False)
    macros_by_name: dict[str, Function] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for fn in self.functions:
            self.functions_by_name.setdefault(fn.name, fn)
        for m in self.macros:
            self.macros_by_name[m.name] = m  # the last definition wins, as in cpp
