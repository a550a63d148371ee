"""The control-flow graph as a value (built by cfg.py; stored in the facts cache).

Nodes hold events in evaluation order and end in one terminator:

    events: ("call", k, callee name | None, pointer value | None, args, line, column, guards, shown)
            ("set", local name, value, guards)
            ("write", target path, value, line, column, guards)
            ("gap", line)                     tree-sitter could not parse here
            ("opaque", (why, line))           a macro body that is not C
    terms:  ("jump", n) ("branch", value, n_true, n_false)
            ("switch", value, ((case value, n), ...), n_default)
            ("return", value | None) ("any", (n, ...)) ("exit",)
"""

from __future__ import annotations

from typing import Any, NamedTuple

Event = tuple[Any, ...]
Term = tuple[Any, ...]


class CfgNode(NamedTuple):
    events: tuple[Event, ...]
    term: Term
    line: int


class Cfg(NamedTuple):
    params: tuple[str, ...]
    nodes: tuple[CfgNode, ...]  # node 0 is the entry
    calls: int  # number of call events (their k are 0..calls-1)
