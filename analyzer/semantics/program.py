"""The scanned tree as the summaries see it: names resolved with C linkage (functions,
then function-like macros), the tree's own IOTLB API, and the constants in scope."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath

from analyzer.facts import Function
from analyzer.index import TreeIndex
from analyzer.semantics.kb import KnowledgeBase
from analyzer.semantics.summaries import FunctionLike, Summaries

IOTLB_HEADER = "include/linux/vhost_iotlb.h"
_IOTLB_DECL_RE = re.compile(rb"\b(vhost_iotlb_\w+)\s*\(")


class TreeProgram:
    def __init__(self, index: TreeIndex, kb: KnowledgeBase) -> None:
        self.index = index
        self.kb = kb
        self.full = Summaries(self)  # every member write: for .set_group_asid
        self.summaries = Summaries(self, frozenset())
        self._iotlb_api: frozenset[str] | None = None
        self._constants: dict[str, dict[str, int]] = {}
        self._holders: frozenset[str] | None = None

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
                facts = self.index.facts(rel)
                if facts is not None:
                    out.update(facts.defines)
            own = self.index.facts(fn.path)
            if own is not None:
                out.update(own.defines)
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

    def macro_note(self, fn: FunctionLike) -> str:
        if isinstance(fn, Function) and fn.macro:
            return f"macro defined at {fn.path}:{fn.line}"
        return ""
