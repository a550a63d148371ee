"""The scanned tree as a lazy index: facts per file, ops tables, C-linkage resolution.

Files are parsed only when needed: files that mention `vdpa_config_ops`, then a
driver's own directory, then, for a name still unknown, the files of the tree
whose column-0 lines look like its definition (kernel style puts every function
definition's name on an unindented line).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from analyzer.api import VdpaApi, api_from_header
from analyzer.bytescan import word_starts
from analyzer.cache import FactsCache, freeze
from analyzer.cconfig import KernelConfig, resolve_config
from analyzer.extract import OPS_STRUCT, defines_of, extract
from analyzer.facts import FileFacts, Function, OpsEntry, OpsRuntimeClear, OpsTable
from analyzer.indexmemo import IndexMemo
from analyzer.source import MAX_FILE_BYTES, Scan, SourceProblem, read_source, source_problem, walk_sources

# An ops table definition always reads `vdpa_config_ops NAME =` (pointers and members do not).
_TABLE_RE = re.compile(rb"\b" + OPS_STRUCT.encode() + rb"\s+\w+\s*=")

# The byte index reads every file of the subsystem, so its patterns start with a literal the
# regex engine can skip to (a leading `\b`, `^` under re.M or a class makes it try every byte:
# 4-9 times slower). Line patterns run on the bytes with a newline put in front (_lines());
# a leading `\b` is checked by word_starts().
_DEF_LINE_RE = re.compile(rb"\n(?:[A-Za-z_][\w \t*]*?\b|[ \t]*#[ \t]*define[ \t]+)([A-Za-z_]\w*)[ \t]*\(")


# Struct definitions and their struct-typed members, read from bytes (the same pass as
# the definition index): which members can lead to an IOTLB is a question of types.
_STRUCT_RE = re.compile(rb"\nstruct[ \t]+(\w+)[ \t]*\{(.*?\n)\}", re.S)
_MEMBER_RE = re.compile(rb"struct[ \t]+(\w+)[ \t*]+(?:__\w+[ \t*]+)*(\w+)[ \t]*(?:\[[^\]]*\][ \t]*)*[;,]")

# Where functions are stored (Smatch's function-pointer table): designated initializers of a
# struct, assignments to a member, and the work/timer initialisers that bind a handler.
_INIT_RE = re.compile(rb"struct[ \t]+(\w+)[ \t]+(?:__\w+[ \t]+)*(\w+)[ \t]*(?:\[[^\]]*\][ \t]*)?=[ \t]*\{")
_DESIGNATED_RE = re.compile(rb"\.(\w+)[ \t]*=[ \t]*&?[ \t]*([A-Za-z_]\w*)[ \t]*(?=[,}\n])")
# `->field = name;` is searched in the reversed bytes, where it starts with its `;`.
_REVERSED_ASSIGN_RE = re.compile(rb";[ \t]*(\w*[A-Za-z_])[ \t]*&?[ \t]*=[ \t]*(\w+)[ \t]*(?:>-|\.)")
_BASE_RE = re.compile(rb"(\w+)((?:[ \t]*(?:->|\.)[ \t]*\w+)*)[ \t]*$")
# One pattern per binder family, each starting with its literal.
_WORK_CALL = (
    rb"[ \t]*\([ \t]*&?[ \t]*\(?[ \t]*"
    rb"(?:(\w+)((?:[ \t]*(?:->|\.)[ \t]*\w+)*?)[ \t]*(?:->|\.)[ \t]*)?(\w+)[ \t]*\)?[ \t]*,[ \t]*([A-Za-z_]\w*)"
)
_WORK_RES = tuple(
    re.compile(binder + _WORK_CALL)
    for binder in (
        rb"INIT_(?:WORK|DELAYED_WORK|WORK_ONSTACK|RCU_WORK)",
        rb"kthread_init_(?:work|delayed_work)",
        rb"timer_setup",
        rb"tasklet_setup",
    )
)


def _lines(data: bytes) -> bytes:
    """data with a newline in front: `\n...` patterns then match at every line start."""
    return b"\n" + data


_FN_MEMBER_RE = re.compile(rb"\([ \t]*\*[ \t]*(\w+)[ \t]*\)[ \t]*\(")


class Store(NamedTuple):
    """A function stored where a call through a pointer may find it."""

    kind: str  # "init" (designated initializer of struct `struct`), "assign", "work"
    struct: str  # the initialised struct type ("" when not known, or not read yet: see base)
    field: str
    function: str
    path: str
    line: int
    base: str = ""  # the variable a member store goes through (`p` in `p->kick = f`)
    offset: int = 0  # where the store is, to read the base's declaration above it


PARALLEL_SCAN_FILES = 4000  # below this, starting worker processes costs more than it saves


def files_mentioning(root: str, needle: bytes, files: list[str]) -> list[str]:
    """Files whose bytes contain needle, or that cannot be opened (raw() will say why)."""
    out = []
    prefix = root + os.sep
    for rel in files:
        try:
            with open(prefix + rel, "rb", buffering=0) as fh:
                if needle in fh.read(MAX_FILE_BYTES + 1):
                    out.append(rel)
        except OSError:
            out.append(rel)
    return out


def _scan_share(
    root: str, needle: bytes, files: list[str], cache_dir: str | None
) -> list[tuple[str, FileFacts | None]]:
    """A worker's share of a whole-tree scan: the files that mention needle, each with its
    facts already extracted (and cached) when it defines an ops table, so parsing runs on
    every core too."""
    cache = FactsCache(Path(cache_dir)) if cache_dir else None
    out: list[tuple[str, FileFacts | None]] = []
    for rel in files_mentioning(root, needle, files):
        facts = None
        try:
            with open(os.path.join(root, rel), "rb") as fh:
                data = fh.read(MAX_FILE_BYTES + 1)
        except OSError:
            data = b""
        if data and _TABLE_RE.search(data) and source_problem(data) is None:
            facts = cache.get(rel, data) if cache else None
            if facts is None:
                facts = freeze(extract(rel, data))
                if cache:
                    cache.put(rel, data, facts)
        out.append((rel, facts))
    return out


def driver_root(path: str) -> str:
    """The directory a driver's files live under: drivers/vdpa/<name> for vDPA parents."""
    parts = PurePosixPath(path).parts
    for i in range(len(parts) - 2):
        if parts[i] == "drivers" and parts[i + 1] == "vdpa":
            return "/".join(parts[: i + 3]) if len(parts) > i + 3 else "/".join(parts[: i + 2])
    if len(parts) > 1 and "drivers" not in parts:
        return parts[0]
    return str(PurePosixPath(path).parent) if len(parts) > 1 else ""


def driver_name(path: str) -> str:
    root = driver_root(path)
    return PurePosixPath(root).name if root else PurePosixPath(path).stem


def _line_at(data: bytes, at: int) -> int:
    return data.count(b"\n", 0, at) + 1


def _stores(rel: str, data: bytes) -> list[Store]:
    out: list[Store] = []
    seen = [0, 1]  # an offset and its line: each pass asks in increasing order

    def line(at: int) -> int:
        if at < seen[0]:
            seen[:] = [0, 1]
        seen[1] += data.count(b"\n", seen[0], at)
        seen[0] = at
        return seen[1]

    for m in word_starts(_INIT_RE, data):
        struct = m.group(1).decode()
        depth, i = 1, len(data)
        for brace in _BRACE_RE.finditer(data, m.end()):  # jump from brace to brace
            depth += 1 if brace.group() == b"{" else -1
            if not depth:
                i = brace.end()
                break
        for d in _DESIGNATED_RE.finditer(data, m.end(), i):
            out.append(Store("init", struct, d.group(1).decode(), d.group(2).decode(), rel, line(d.start())))
    reversed_data = data[::-1]
    for m in reversed(list(_REVERSED_ASSIGN_RE.finditer(reversed_data))):
        name = m.group(1)[::-1].decode()
        if name in ("NULL", "true", "false"):
            continue
        at = len(data) - m.end()
        base = _base_before(data, at)
        out.append(Store("assign", "", m.group(2)[::-1].decode(), name, rel, line(at), base, at))
    bound = sorted((m for pattern in _WORK_RES for m in word_starts(pattern, data)), key=lambda m: m.start())
    for m in bound:
        base = m.group(1).decode() if m.group(1) and not m.group(2) else ""
        out.append(
            Store("work", "", m.group(3).decode(), m.group(4).decode(), rel, line(m.start()), base, m.start())
        )
    return out


_BRACE_RE = re.compile(rb"[{}]")
_REVERSED_BASE_RE = re.compile(rb"[ \t]*((?:\w+[ \t]*(?:>-|\.)[ \t]*)*)(\w+)")


def _base_before(data: bytes, at: int) -> str:
    """The plain variable `base->field = f;` stores through ("" for a longer chain): matched
    on the reversed bytes before the member, so the regex makes one attempt."""
    m = _REVERSED_BASE_RE.match(data[max(0, at - 160) : at][::-1])
    if m is None or m.group(1):
        return ""
    return m.group(2)[::-1].decode("ascii", "replace")


def store_struct(data: bytes, store: Store) -> str:
    """The struct a member store writes into, read from its base's declaration above it."""
    if store.struct or not store.base:
        return store.struct
    return _declared_struct(data, store.offset, store.base.encode())


@lru_cache(maxsize=512)
def _declaration_of(base: bytes) -> re.Pattern[bytes]:
    return re.compile(rb"\bstruct[ \t]+(\w+)[ \t*]+" + re.escape(base) + rb"\b")


def _declared_struct(data: bytes, at: int, base: bytes) -> str:
    """The struct a store's base variable is declared as, read back from the store (the
    nearest `struct T *base` above it): `p->kick = f` with `struct pt_peer *p` stores into
    (pt_peer, kick). "" when the declaration is not found."""
    matches = list(_declaration_of(base).finditer(data, max(0, at - 8192), at))
    return matches[-1].group(1).decode() if matches else ""


def _file_index(rel: str, data: bytes) -> tuple[Any, ...]:
    """What the index reads from one file's bytes: column-0 definitions, struct-typed and
    function-pointer members of its structs, function stores, and its digest."""
    lines = _lines(data)
    names = frozenset(
        m.group(1).decode("ascii", "replace")
        for m in _DEF_LINE_RE.finditer(lines)
        if not _declaration_only(lines, m.end())
    )
    members: list[tuple[str, str, str]] = []
    fn_members: list[tuple[str, str]] = []
    if b"struct" in data:
        for st in _STRUCT_RE.finditer(lines):
            body = st.group(2)
            fn_members.extend(
                (st.group(1).decode(), m.group(1).decode()) for m in _FN_MEMBER_RE.finditer(body)
            )
            members.extend(
                (st.group(1).decode(), m.group(1).decode(), m.group(2).decode())
                for m in word_starts(_MEMBER_RE, body)
            )
    return (
        names,
        tuple(members),
        tuple(fn_members),
        tuple(_stores(rel, data)),
        hashlib.sha256(data).hexdigest(),
    )


def _declaration_only(data: bytes, at: int) -> bool:
    """A column-0 line ending in ';' declares (a prototype, `static LIST_HEAD(x);`): it never
    defines a function, so its file need not be parsed to resolve the name."""
    end = data.find(b"\n", at)
    line = data[at : end if end != -1 else len(data)].split(b"/*")[0].split(b"//")[0].rstrip()
    return line.endswith(b";")


class Resolution(NamedTuple):
    function: Function | None
    problem: SourceProblem | None = None  # the definition may be in a file we cannot read


def configurations(table: OpsTable, runtime: tuple[OpsRuntimeClear, ...]) -> list[OpsTable]:
    """The table with its ops given other functions, for each configuration that may be: a
    branch of a `?:` entry (chosen at build time), or the members a copy of the table is set
    to in one block of one function at run time (under one condition, together). Each is
    judged as a table of its own."""
    changes: list[
        tuple[tuple[tuple[str, str], ...], int, int, str]
    ] = []  # (op, function)s, line, column, where
    for e in table.entries:
        for other in e.alternatives:
            changes.append(
                (((e.op, other),), e.line, e.column, f"chosen when the kernel is built: {e.value_text}")
            )
    blocks: dict[tuple[str, str, int], list[OpsRuntimeClear]] = {}
    for c in runtime:
        if c.table == table.name and c.value and not c.variable:
            blocks.setdefault((c.path, c.function, c.group), []).append(c)
    for sets in blocks.values():
        first = sets[0]
        made = {c.op: c.value for c in sets}  # the last set of an op in the block holds
        what = (
            f"set to {first.value}"
            if len(made) == 1
            else "set to " + " and ".join(f"{fn} (.{op})" for op, fn in made.items())
        )
        where = f"{what} at run time in {first.function}() at {first.path}:{first.line}"
        changes.append((tuple(made.items()), first.line, first.column, where))
    out: list[OpsTable] = []
    seen: set[str] = set()
    for made_ops, line, column, where in changes:
        name = f"{table.name}[{','.join(f'{op}={fn}' for op, fn in made_ops)}]"
        if name in seen:  # the same configuration made in two places: judged at the first
            continue
        seen.add(name)
        ops = {op for op, _ in made_ops}
        entries = tuple(e for e in table.entries if e.op not in ops) + tuple(
            OpsEntry(op, fn, line, column, fn) for op, fn in made_ops
        )
        out.append(
            table._replace(
                name=name,
                line=line,
                column=column,
                entries=entries,
                configuration_of=table.name,
                configured_ops=tuple(op for op, _ in made_ops),
                configuration=where,
            )
        )
    return out


def _lost(facts: FileFacts, name: str, linked: bool = False) -> SourceProblem | None:
    """Why name cannot be analysed when its definition in this file did not parse (linked:
    called from another file, which a static definition cannot be)."""
    for lost, line, static in facts.lost:
        if lost == name and not (linked and static):
            return SourceProblem(facts.path, f"the definition at line {line} could not be parsed")
    return None


def _common_prefix(a: str, b: str) -> int:
    """How many leading path components two tree-relative paths share."""
    n = 0
    for x, y in zip(a.split("/"), b.split("/"), strict=False):
        if x != y:
            break
        n += 1
    return n


class TreeIndex:
    def __init__(self, scan: Scan, cache: FactsCache | None = None) -> None:
        self.scan = scan
        self.cache = cache
        self.config: KernelConfig | None = None  # kbuild's configuration (vdpa-lint cc), when known
        self._to_store: list[tuple[str, bytes, FileFacts]] = []
        self.progress: Callable[[str, int, int], None] = lambda stage, done, total: None
        self._facts: dict[str, FileFacts | None] = {}
        self._defines: dict[str, tuple[tuple[str, int], ...]] = {}  # of files not parsed
        self.problems: dict[str, SourceProblem] = {p.path: p for p in scan.problems}
        self._raw: dict[str, bytes] = {}
        self._globals: dict[str, list[Function]] = {}
        self._macros: dict[str, list[Function]] = {}
        self._def_files: dict[str, list[str]] | None = None
        self._def_names: dict[str, set[str]] = {}  # the other way round, to update it
        self._members: dict[str, list[tuple[str, str, str]]] = {}  # file -> (struct, member type, member)
        self._headers: dict[str, set[str]] | None = None
        self._stores: dict[str, list[Store]] = {}
        self._typed: dict[tuple[str, int], str] = {}
        self._digests: dict[str, str] = {}
        self._index_memo: IndexMemo | None = None
        self._fn_members: dict[str, list[tuple[str, str]]] = {}
        self._api: VdpaApi | None = None
        self._shared_ready: Callable[[], bool] = lambda: True
        self._ahead: dict[str, FileFacts] = {}  # parsed while waiting for the shared index
        self._fetch_shared: Callable[[], tuple[Any, ...]] | None = None  # a forked worker's
        # What one table's analysis read: the gate re-analyses a table only when one of
        # these files changes, or a changed file defines one of these names.
        self.touched: set[str] = set()
        self.names: set[str] = set()

    def invalidate(self, scan: Scan, changed: set[str]) -> None:
        """Forget what changed files said (a patch was applied); keep everything else."""
        self.scan = scan
        for rel in changed:
            self._facts.pop(rel, None)
            self._ahead.pop(rel, None)
            self._defines.pop(rel, None)
            self._raw.pop(rel, None)
            self.problems.pop(rel, None)
        for p in scan.problems:
            self.problems.setdefault(p.path, p)
        self._globals = {}
        self._macros = {}
        self._headers = None
        for facts in self.parsed():
            self._register(facts)
        if self._def_files is not None:
            for rel in changed:
                self._digests.pop(rel, None)
                self._members.pop(rel, None)
                self._stores.pop(rel, None)
                self._fn_members.pop(rel, None)
                for name in self._def_names.pop(rel, ()):
                    self._def_files[name].remove(rel)
            known = set(scan.tree_files)
            for rel in sorted(changed & known):
                self._index_definitions(rel)
        if scan.api_header is None or scan.api_header in changed:
            self._api = None

    def defined_names(self, rel: str) -> set[str]:
        """Names an unindented line of this file may define (from the bytes last read)."""
        data = self._raw.get(rel)
        return (
            {m.group(1).decode("ascii", "replace") for m in _DEF_LINE_RE.finditer(_lines(data))}
            if data
            else set()
        )

    # -- files ---------------------------------------------------------------------------
    def raw(self, rel: str) -> bytes | None:
        if rel not in self._raw:
            data = read_source(self.scan.root / rel)
            if isinstance(data, str):
                self.problems[rel] = SourceProblem(rel, data)
                return None
            self._raw[rel] = data
        return self._raw[rel]

    def facts(self, rel: str) -> FileFacts | None:
        self.touched.add(rel)
        if rel not in self._facts:
            data = self.raw(rel)
            facts = None
            if data is not None:
                facts = self.cache.get(rel, data) if self.cache and self.config is None else None
                if facts is None:
                    facts = self._ahead.pop(rel, None) or extract(rel, data, self.config)
                    if self.cache and self.config is None:
                        self._to_store.append((rel, data, facts))
            self._facts[rel] = facts
            if facts is not None:
                self._register(facts)
        return self._facts[rel]

    def defines(self, rel: str) -> tuple[tuple[str, int], ...]:
        """A file's numeric #defines: from its facts when it is parsed, else from its bytes
        (a header beside a function is read for its constants, and need not be parsed)."""
        self.touched.add(rel)
        if rel in self._facts:
            facts = self._facts[rel]
            return facts.defines if facts is not None else ()
        if rel not in self._defines:
            data = self.raw(rel)
            if data is not None and self.config is not None:
                data = resolve_config(data, self.config)
            self._defines[rel] = defines_of(data) if data is not None else ()
        return self._defines[rel]

    def store_cache(self, write: bool = True, memo: bool = True) -> None:
        """Write the facts extracted in this run to the on-disk cache (or forget them), and
        the byte index's memo unless memo=False (a forked worker's is its parent's)."""
        if self.cache and write:
            for rel, data, facts in self._to_store:
                self.cache.put(rel, data, facts)
            if self._index_memo is not None and memo:
                self._index_memo.save()
        self._to_store = []

    def _register(self, facts: FileFacts) -> None:
        if self._walkable(facts.path):
            for fn in facts.functions:
                if not fn.static or facts.path.endswith(".h"):
                    self._globals.setdefault(fn.name, []).append(fn)
            if facts.path.endswith(".h"):  # a .c file's macros are its own
                for m in facts.macros:
                    self._macros.setdefault(m.name, []).append(m)

    def _walkable(self, rel: str) -> bool:
        """Driver code is walked into; kernel core (include/, kernel/, mm/, ...) is not:
        the knowledge base summarises the primitives a driver calls there."""
        return self.scan.api_header is None or rel.startswith("drivers/")

    def headers_in(self, directory: str) -> list[str]:
        """The .h files directly in a directory of the tree, in a stable order."""
        if self._headers is None:
            self._headers = {}
            for rel in self.scan.tree_files + self.scan.files:
                if rel.endswith(".h"):
                    self._headers.setdefault(str(PurePosixPath(rel).parent), set()).add(rel)
        return sorted(self._headers.get(directory, ()))

    def parsed_paths(self) -> set[str]:
        return {rel for rel, f in self._facts.items() if f is not None}

    def parsed(self) -> list[FileFacts]:
        return [f for f in self._facts.values() if f is not None]

    @property
    def api(self) -> VdpaApi:
        if self._api is None:
            self._adopt_shared()
        if self._api is None:
            header = self.scan.api_header
            self._api = api_from_header(self.facts(header) if header else None)
        return self._api

    # -- ops tables ----------------------------------------------------------------------
    def ops_tables(self) -> tuple[list[OpsTable], list[SourceProblem]]:
        """Every ops table in the analysed files, and the files that may hold one but
        could not be read (fail closed: those become VDPA000)."""
        files, unreadable = self.table_files()
        tables = [t for rel in files for t in self.tables_in(rel)]
        return tables, unreadable

    def table_files(self) -> tuple[list[str], list[SourceProblem]]:
        """The analysed files that may define an ops table, and those that may hold one but
        could not be read. Files are filtered on their bytes: none is parsed here."""
        files: list[str] = []
        unreadable: list[SourceProblem] = []
        needle = OPS_STRUCT.encode()
        for rel in self._mentioning(needle):
            data = self.raw(rel)
            if data is None:
                unreadable.append(self.problems[rel])
            elif _TABLE_RE.search(data):
                files.append(rel)
        unreadable.extend(p for p in self.scan.problems if p not in unreadable)
        self._extend_scope(files)
        return files, unreadable

    def tables_in(self, rel: str) -> tuple[OpsTable, ...]:
        """A file's ops tables, each followed by its other configurations."""
        facts = self.facts(rel)
        if facts is None:
            return ()
        return tuple(c for t in facts.tables for c in (t, *configurations(t, facts.runtime_clears)))

    # -- what processes forked to analyse tables share (analyzer/forkpool.py) ---------------
    def shared(self) -> tuple[Any, ...]:
        """What every table's analysis reads (the byte index, the API), built once here and
        handed to the workers, which meanwhile parse their own table files."""
        self._definition_files()
        return (
            self.api,
            self._def_files,
            self._def_names,
            self._stores,
            self._fn_members,
            self._members,
            self._digests,
            dict(self.problems),
        )

    def adopt(self, fetch: Callable[[], tuple[Any, ...]], ready: Callable[[], bool] = lambda: True) -> None:
        """In a worker: take the shared index from fetch() when it is first needed; until
        ready() says it is there, parse ahead the files the analysis will likely read."""
        if self._def_files is None or self._api is None:
            self._fetch_shared = fetch
            self._shared_ready = ready

    def _adopt_shared(self) -> None:
        fetch, self._fetch_shared = self._fetch_shared, None
        if fetch is None:
            return
        self._parse_ahead(self._shared_ready)
        api, def_files, def_names, stores, fn_members, members, digests, problems = fetch()
        self._api = self._api or api
        if self._def_files is None:
            self._def_files, self._def_names, self._stores = def_files, def_names, stores
            self._fn_members, self._members, self._digests = fn_members, members, digests
        for rel, problem in problems.items():
            self.problems.setdefault(rel, problem)

    def _parse_ahead(self, ready: Callable[[], bool]) -> None:
        """While waiting for the shared index: parse the C files of the drivers whose tables
        this process has parsed (a driver's directory below drivers/vdpa, say), its own
        directory first. Their facts are kept aside, not registered, so what resolution sees
        is what it would see without this (only when a file is parsed changes)."""
        tables = [rel for rel, f in self._facts.items() if f is not None and f.tables]
        dirs = {rel.rsplit("/", 1)[0] for rel in tables}
        roots = {driver_root(rel) for rel in tables}
        ahead = sorted(
            (
                rel
                for rel in self.scan.tree_files
                if rel.endswith(".c")
                and rel not in self._facts
                and any(rel.startswith(r + "/") for r in roots)
            ),
            key=lambda rel: (rel.rsplit("/", 1)[0] not in dirs, rel),
        )
        for rel in ahead:
            if ready():
                return
            data = self.raw(rel)
            if data is not None and self.config is None and rel not in self.problems:
                self._ahead[rel] = extract(rel, data)

    def _mentioning(self, needle: bytes) -> list[str]:
        """Analysed files whose bytes contain needle, or that cannot be read at all. A large
        tree's cache (analyzer/treecache.py) answers for the files that did not change."""
        files = [rel for rel in self.scan.files if rel not in self._raw]
        cached = [rel for rel in self.scan.files if rel in self._raw and needle in self._raw[rel]]
        tree_cache = self.scan.tree_cache
        if tree_cache is not None and needle == tree_cache.needle:
            whole = len(files) == len(self.scan.files) and not self.scan.named_files
            found = tree_cache.mentioning(files, lambda unknown: self._search(needle, unknown), whole)
            tree_cache.save()
        else:
            found = self._search(needle, files)
        if not cached:
            return found  # already in the scan's order
        order = {rel: n for n, rel in enumerate(self.scan.files)}
        return sorted(cached + found, key=order.__getitem__)

    def _search(self, needle: bytes, files: list[str]) -> list[str]:
        """Read the files and keep those whose bytes contain needle (or cannot be read)."""
        workers = os.cpu_count() or 1
        if len(files) < PARALLEL_SCAN_FILES or workers < 2:
            return files_mentioning(str(self.scan.root), needle, files)
        # A whole kernel is 60,000 files: the cores read and search shares of them.
        # (Imported here: process pools cost 25 ms of imports a small run never needs.)
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        size = max(1, len(files) // (16 * workers))
        chunks = [files[i : i + size] for i in range(0, len(files), size)]
        ctx = multiprocessing.get_context("fork")
        cache_dir = str(self.cache.directory) if self.cache else None
        found = []
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            n = len(chunks)
            parts = pool.map(_scan_share, [str(self.scan.root)] * n, [needle] * n, chunks, [cache_dir] * n)
            for k, part in enumerate(parts, 1):
                for rel, facts in part:
                    found.append(rel)
                    if facts is not None:  # parsed in the worker
                        self._facts[rel] = facts
                        self._register(facts)
                self.progress("scanning files", min(k * size, len(files)), len(files))
        return found

    def _extend_scope(self, table_files: list[str]) -> None:
        """A parent outside the vDPA subsystem resolves callees in its own directory too."""
        known = set(self.scan.tree_files)
        extra = [
            rel
            for d in sorted({driver_root(rel) for rel in table_files})
            if d
            for rel in walk_sources(self.scan.root, d)
            if rel not in known
        ]
        if extra:
            self.scan = self.scan._replace(tree_files=self.scan.tree_files + tuple(dict.fromkeys(extra)))
            self._def_files = None
            self._headers = None

    def _bytes_anyway(self, rel: str) -> bytes | None:
        try:
            return (self.scan.root / rel).read_bytes()[: 64 * 1024 * 1024]
        except OSError:
            return None

    # -- resolution ----------------------------------------------------------------------
    def _definition_files(self) -> dict[str, list[str]]:
        """Name -> walkable files with an unindented line that looks like its definition."""
        if self._def_files is None:
            self._adopt_shared()
        if self._def_files is None:
            self._def_files = {}
            for rel in self.scan.tree_files:
                self._index_definitions(rel)
        return self._def_files

    def _index_definitions(self, rel: str) -> None:
        if not self._walkable(rel) or self._def_files is None:
            return
        memo = self._memo()
        entry = memo.get(rel) if memo is not None else None
        if entry is None:
            data = self.raw(rel) if rel not in self.problems else self._bytes_anyway(rel)
            if data is None:
                return
            entry = _file_index(rel, data)
            if memo is not None and rel not in self.problems:
                memo.put(rel, entry)
        names, members, fn_members, stores, digest = entry
        self._def_names[rel] = set(names)
        for name in names:
            self._def_files.setdefault(name, []).append(rel)
        self._stores[rel] = list(stores)
        self._fn_members[rel] = list(fn_members)
        self._members[rel] = list(members)
        self._digests[rel] = digest

    def _memo(self) -> IndexMemo | None:
        if self._index_memo is None and self.cache is not None:
            self._index_memo = IndexMemo(self.cache.directory, self.scan.root)
        return self._index_memo

    def digest(self, rel: str) -> str:
        """sha256 of a file's bytes ("" when it is not there), from the index when it has it."""
        if rel in self._digests and rel not in self._raw:
            return self._digests[rel]
        if not (self.scan.root / rel).is_file():
            return ""
        data = self.raw(rel)
        return hashlib.sha256(data).hexdigest() if data is not None else ""

    def typed(self, store: Store) -> str:
        """A store's struct type, its base's declaration read only when asked (cached)."""
        key = (store.path, store.offset)
        if key not in self._typed:
            self._typed[key] = store_struct(self.raw(store.path) or b"", store)
        return self._typed[key]

    def stores(self) -> list[Store]:
        """Every place in the tree's files where a function may be stored for a later call."""
        self._definition_files()
        return [st for rel in sorted(self._stores) for st in self._stores[rel]]

    def pointer_members(self) -> list[tuple[str, str]]:
        """(struct, member) of every function-pointer member the tree's structs declare."""
        self._definition_files()
        return [m for rel in sorted(self._fn_members) for m in self._fn_members[rel]]

    def struct_members(self) -> list[tuple[str, str, str]]:
        """(struct, member type, member name) of every struct-typed member in the tree's files."""
        self._definition_files()
        return [t for rel in sorted(self._members) for t in self._members[rel]]

    def definition_files_of(self, name: str) -> list[str]:
        """The files whose unindented lines may define name (what resolution reads)."""
        return sorted(self._definition_files().get(name, ()))

    def resolve(self, name: str, from_path: str) -> Resolution:
        """C linkage: the caller's file first (statics included), then the other files
        of the tree, nearest directory first (the driver's own directory wins)."""
        self.names.add(name)
        own = self.facts(from_path)
        if own is not None and self._walkable(from_path):
            if name in own.functions_by_name:
                return Resolution(own.functions_by_name[name])
            if name in own.macros_by_name:
                return Resolution(own.macros_by_name[name])
            if own.lost and (lost := _lost(own, name)) is not None:
                return Resolution(None, lost)
        candidates = self._definition_files().get(name, ())
        # Nearest directory first: a farther file is read only when no nearer one defines the
        # name with linkage (drivers/vhost/scsi.c is not parsed to resolve a name mlx5 defines).
        tiers: dict[int, list[str]] = {}
        for rel in candidates:
            tiers.setdefault(_common_prefix(rel, from_path), []).append(rel)
        for depth in sorted(tiers, reverse=True):
            for rel in tiers[depth]:
                if rel not in self.problems:
                    self.facts(rel)
                else:
                    self.touched.add(rel)
            near = self._nearest(name, from_path)
            if near is not None and _common_prefix(near.path, from_path) >= depth:
                break
        found = self._nearest(name, from_path)
        nearest_ok = _common_prefix(found.path, from_path) if found else -1
        for rel in candidates:
            # Fail closed: a nearer file that may define it could not be analysed, or holds
            # a definition of it that did not parse.
            problem = self.problems.get(rel)
            if problem is None:
                facts = self._facts.get(rel)
                problem = _lost(facts, name, rel != from_path) if facts is not None and facts.lost else None
            if problem is not None and _common_prefix(rel, from_path) > nearest_ok:
                return Resolution(None, problem)
        return Resolution(found)

    def _nearest(self, name: str, from_path: str) -> Function | None:
        defs = self._globals.get(name) or self._macros.get(name)
        if not defs:
            return None
        return max(defs, key=lambda f: (_common_prefix(f.path, from_path), f.path.endswith(".c")))
