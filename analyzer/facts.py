"""Facts of one C file: functions (with their control-flow graphs), ops tables, defines, macros.

Facts are plain frozen values with no parse tree inside, so they can be cached,
compared and handed to the engine without tree-sitter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from analyzer.semantics.graph import Cfg, CfgNode

_FUNCTION_FIELDS = (
    "name",
    "path",
    "line",
    "column",
    "end_line",
    "static",
    "params",
    "gap_lines",
    "source",
    "macro",
    "param_types",
)


class Function:
    """A function definition (or a function-like macro, read as one). Its control-flow
    graph is built from the syntax tree the first time it is needed: most functions of a
    driver are never on an analysed path. A value: compared and hashed by what it says
    (not by its graph's source); never changed after it is made (replace() makes another)."""

    __slots__ = (*_FUNCTION_FIELDS, "_cache")

    def __init__(
        self,
        name: str,
        path: str,
        line: int,
        column: int,
        end_line: int,
        static: bool,
        params: tuple[str, ...],
        gap_lines: tuple[int, ...] = (),  # lines tree-sitter could not parse, in every view
        source: Cfg | Callable[[], Cfg] | None = None,
        macro: bool = False,  # a function-like #define, analysed with its arguments substituted
        param_types: tuple[str, ...] = (),  # the struct each parameter points to ("" when not a struct)
    ) -> None:
        self.name = name
        self.path = path
        self.line = line
        self.column = column
        self.end_line = end_line
        self.static = static
        self.params = params
        self.gap_lines = gap_lines
        self.source = source
        self.macro = macro
        self.param_types = param_types
        self._cache: list[Cfg] = []

    def _key(self) -> tuple[object, ...]:
        return (
            self.name,
            self.path,
            self.line,
            self.column,
            self.end_line,
            self.static,
            self.params,
            self.gap_lines,
            self.macro,
            self.param_types,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Function) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Function({self.name!r}, {self.path!r}, line {self.line})"

    def replace(self, **changes: object) -> Function:
        """A copy with some fields changed (its graph is built again, or taken from source)."""
        fields = {f: getattr(self, f) for f in _FUNCTION_FIELDS}
        fields.update(changes)
        return Function(**fields)

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
    alternatives: tuple[str, ...] = ()  # the other functions a `?:` may give: `X ? f : g`


class OpsTable(NamedTuple):
    name: str
    path: str
    line: int
    column: int
    const: bool
    entries: tuple[OpsEntry, ...]
    gap_lines: tuple[int, ...] = ()
    # A configuration of another table (`configuration_of`): one op given another function,
    # at build time (a `?:` entry) or at run time (a copy's member set); `configuration` says
    # where. Its name is the table's with the change: `x_ops[reset=x_other_reset]`.
    configuration_of: str = ""
    configured_ops: tuple[str, ...] = ()
    configuration: str = ""

    @property
    def base(self) -> str:
        """The name of the table as the source declares it."""
        return self.configuration_of or self.name

    def entry(self, op: str) -> OpsEntry | None:
        for e in self.entries:
            if e.op == op and e.function is not None:
                return e
        return None


class OpsRuntimeClear(NamedTuple):
    """`copy = table; ... copy.op = NULL;`: the op exists only on some devices; or
    `copy.op = other;` (value "other"): on some devices it is another function."""

    table: str
    op: str
    path: str
    line: int
    column: int
    function: str
    value: str = ""  # "" for NULL
    variable: bool = False  # value names a parameter or local of the function, not a function
    group: int = 0  # sets made in one block (one condition) share it: one configuration


_FILE_FIELDS = (
    "path",
    "functions",
    "tables",
    "runtime_clears",
    "defines",
    "config_ops_fields",
    "gap_lines",
    "macros",
    "iotlb_fields",
    "lost",
)


class FileFacts:
    """What one file defines. A value, compared by its fields (not by the name indexes
    built from them); replace() makes another."""

    __slots__ = (*_FILE_FIELDS, "functions_by_name", "macros_by_name")

    def __init__(
        self,
        path: str,
        functions: tuple[Function, ...] = (),
        tables: tuple[OpsTable, ...] = (),
        runtime_clears: tuple[OpsRuntimeClear, ...] = (),
        defines: tuple[tuple[str, int], ...] = (),
        config_ops_fields: tuple[str, ...] = (),  # fields of struct vdpa_config_ops, if defined here
        gap_lines: tuple[int, ...] = (),
        macros: tuple[Function, ...] = (),  # function-like #defines
        iotlb_fields: tuple[str, ...] = (),  # struct members declared as a struct vhost_iotlb (pointer)
        lost: tuple[tuple[str, int, bool], ...] = (),  # (name, line, static): heads whose body did not parse
    ) -> None:
        self.path = path
        self.functions = functions
        self.tables = tables
        self.runtime_clears = runtime_clears
        self.defines = defines
        self.config_ops_fields = config_ops_fields
        self.gap_lines = gap_lines
        self.macros = macros
        self.iotlb_fields = iotlb_fields
        self.lost = lost
        self.functions_by_name: dict[str, Function] = {}
        for fn in functions:
            self.functions_by_name.setdefault(fn.name, fn)
        self.macros_by_name: dict[str, Function] = {}
        for m in macros:
            self.macros_by_name[m.name] = m  # the last definition wins, as in cpp

    def _key(self) -> tuple[object, ...]:
        return tuple(getattr(self, f) for f in _FILE_FIELDS)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FileFacts) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"FileFacts({self.path!r}, {len(self.functions)} functions, {len(self.tables)} tables)"

    def replace(self, **changes: object) -> FileFacts:
        fields = {f: getattr(self, f) for f in _FILE_FIELDS}
        fields.update(changes)
        return FileFacts(**fields)
