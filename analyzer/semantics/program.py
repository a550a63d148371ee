"""The scanned tree as the summaries see it: names resolved with C linkage (functions,
then function-like macros), the tree's own IOTLB API, and the constants in scope."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath

from analyzer.facts import Function
from analyzer.index import TreeIndex
from analyzer.semantics import values as V
from analyzer.semantics.kb import KnowledgeBase
from analyzer.semantics.summaries import FunctionLike, Summaries
from analyzer.semantics.values import Value

IOTLB_HEADER = "include/linux/vhost_iotlb.h"
_IOTLB_DECL_RE = re.compile(rb"\b(vhost_iotlb_\w+)\s*\(")
_GLOBAL_RE = re.compile(
    rb"\bstruct[ \t]+(\w+)[ \t]+(?:__\w+[ \t]+)*(\w+)[ \t]*(?:\[[^\]]*\][ \t]*)?=[ \t]*\{"
)


class TreeProgram:
    def __init__(self, index: TreeIndex, kb: KnowledgeBase) -> None:
        self.index = index
        self.kb = kb
        self.full = Summaries(self)  # every member write: for .set_group_asid
        self.summaries = Summaries(self, frozenset())
        self._iotlb_api: frozenset[str] | None = None
        self._constants: dict[str, dict[str, int]] = {}
        self._holders: frozenset[str] | None = None
        self._types: tuple[dict[tuple[str, str], str], dict[str, set[str]]] | None = None
        self._globals: dict[str, str] | None = None

    def resolve(self, name: str, caller: FunctionLike) -> tuple[FunctionLike | None, str | None]:
        res = self.index.resolve(name, caller.path)
        if res.function is not None:
            if res.function is caller and getattr(caller, "macro", False):
                return None, None  # a macro naming itself expands to the function of that name
            return res.function, None
        if res.problem is not None:
            return None, f"{res.problem.path}: {res.problem.message}"
        return None, None

    def keep_writes(self, members: frozenset[str]) -> None:
        """Member writes the other paths must keep: what .set_group_asid binds (VDPA008)."""
        if members != self.summaries.writes:
            self.summaries = Summaries(self, members)

    def is_iotlb_api(self, name: str) -> bool:
        """IOTLB functions are those the tree's own vhost_iotlb.h declares (by prefix when the
        tree has no such header)."""
        if self._iotlb_api is None:
            data = self.index.raw(IOTLB_HEADER) if (self.index.scan.root / IOTLB_HEADER).is_file() else None
            names = {m.group(1).decode() for m in _IOTLB_DECL_RE.finditer(data)} if data else set()
            self._iotlb_api = frozenset(names)
        if self._iotlb_api:
            return name in self._iotlb_api
        return name.startswith("vhost_iotlb_")

    def constants(self, fn: FunctionLike) -> Mapping[str, int]:
        """Numeric constants visible to fn: the knowledge base's, the API header's, and the
        #defines of fn's file and of the headers beside it."""
        directory = str(PurePosixPath(fn.path).parent)
        key = f"{directory}\0{fn.path}"
        if key not in self._constants:
            out = dict(self.kb.constants)
            out.update(self.index.api.constants)
            # Every header beside the file, parsed or not yet: what is visible must not depend
            # on which files earlier analyses happened to read.
            for rel in self.index.headers_in(directory):
                out.update(self.index.defines(rel))
            out.update(self.index.defines(fn.path))
            self._constants[key] = out
        return self._constants[key]

    def iotlb_members(self) -> frozenset[str]:
        """Member names whose type is a struct vhost_iotlb, or a struct that holds one directly
        or through its own members (`cvq`, `domain`, `mvdev`): what an argument must be, short of
        the device itself, for an unfollowed call to reach the upper layer's maps."""
        if self._holders is None:
            members = self.index.struct_members()
            holders = {"vhost_iotlb"}
            grew = True
            while grew:
                grew = False
                for struct, kind, _ in members:
                    if kind in holders and struct not in holders:
                        holders.add(struct)
                        grew = True
            self._holders = frozenset(name for _, kind, name in members if kind in holders)
        return self._holders

    # -- types and calls through pointers ----------------------------------------------------
    def _type_index(self) -> tuple[dict[tuple[str, str], str], dict[str, set[str]]]:
        """(struct, member) -> the member's struct type; member -> structs with a pointer of it."""
        if self._types is None:
            members = {(st, name): kind for st, kind, name in self.index.struct_members()}
            pointers: dict[str, set[str]] = {}
            for st, member in self.index.pointer_members():
                pointers.setdefault(member, set()).add(st)
            self._types = (members, pointers)
        return self._types

    def type_of(self, v: Value, fn: FunctionLike) -> str | None:
        """The struct a value points to or is, where the code says it: a parameter's declared
        type, container_of's type, a member's declared type."""
        kind = v[0]
        if kind == "param":
            types = getattr(fn, "param_types", ())
            return (types[v[1]] or None) if v[1] < len(types) else None
        if kind == "cof":
            return V.struct_of(v[2]) or None
        if kind in ("addr", "deref", "idx"):
            return self.type_of(v[1], fn)
        if kind == "cast":
            return V.struct_of(v[1]) or self.type_of(v[2], fn)
        if kind == "mem":
            base = self.type_of(v[1], fn)
            return self._type_index()[0].get((base, v[2])) if base else None
        if kind == "id":
            return self._global_types().get(v[1])
        return None

    def _global_types(self) -> dict[str, str]:
        """Struct tables defined at file scope (`static const struct x_hw_ops hw = {`), by name."""
        if self._globals is None:
            self._globals = {}
            for rel in sorted({s.path for s in self.index.stores() if s.kind == "init"}):
                for m in _GLOBAL_RE.finditer(self.index.raw(rel) or b""):
                    self._globals.setdefault(m.group(2).decode(), m.group(1).decode())
        return self._globals

    def pointer_targets(self, pointer: Value, fn: FunctionLike, nargs: int) -> list[tuple[FunctionLike, str]]:
        """Every function stored where a call through this pointer reads it (Smatch's table of
        (struct type, member) -> functions), with where it was stored; none when unknown."""
        if pointer[0] == "cond":  # chosen by if/else or ?: — either may be called
            either = self.pointer_targets(pointer[2], fn, nargs) + self.pointer_targets(pointer[3], fn, nargs)
            return list(dict.fromkeys(either))
        if pointer[0] == "id":  # a function named directly, or a local holding one
            callee, _ = self.resolve(pointer[1], fn)
            return [(callee, f"{pointer[1]} through a pointer")] if callee is not None else []
        if pointer[0] != "mem":
            return []
        field = pointer[2]
        struct = self.type_of(pointer[1], fn)
        pointers = self._type_index()[1]
        out: list[tuple[FunctionLike, str]] = []
        for store in self.index.stores():
            if store.field != field or store.kind == "work":
                continue
            if store.kind == "init" and struct is not None and store.struct != struct:
                continue
            if store.kind == "assign" and struct is not None:
                stored_into = self.index.typed(store)
                if stored_into and stored_into != struct:
                    continue  # stored into another struct's member of that name
                if not stored_into and struct not in pointers.get(field, {struct}):
                    continue
            callee = self.index.resolve(store.function, store.path).function
            if callee is None or (len(callee.params) != nargs and "__VA_ARGS__" not in callee.params):
                continue
            out.append((callee, f"via ->{field}, assigned at {store.path}:{store.line}"))
        return out

    def work_handlers(self, work: Value, fn: FunctionLike) -> list[tuple[FunctionLike, str]]:
        """The handlers INIT_WORK and friends bind to the work item a queue call is given."""
        ch = V.chain(work)
        if not ch:
            return []
        base = work[1] if work[0] == "addr" else work
        owner = self.type_of(base[1], fn) if base[0] == "mem" else None
        out: list[tuple[FunctionLike, str]] = []
        for store in self.index.stores():
            if store.kind == "work" and store.field == ch[-1]:
                stored_into = self.index.typed(store) if owner else ""
                if owner and stored_into and stored_into != owner:
                    continue  # another struct's work member of the same name
                handler = self.index.resolve(store.function, store.path).function
                if handler is not None:
                    out.append((handler, f"runs {store.function}, bound at {store.path}:{store.line}"))
        return out

    def macro_note(self, fn: FunctionLike) -> str:
        if isinstance(fn, Function) and fn.macro:
            return f"macro defined at {fn.path}:{fn.line}"
        return ""
