"""The knowledge base (rules/primitives.toml): what calls to kernel primitives do."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from analyzer.cexpr import evaluate
from analyzer.facts import Call

EFFECTS = frozenset(
    {
        "clears_map",
        "unmaps_range",
        "restores_passthrough",
        "writes_asid_binding",
        "writes_state",
        "drops_reference",
        "resets_bounce_map",
    }
)
# Spellings of "all ones" a whole-range call uses for its last address.
ALL_ONES = {"ULLONG_MAX", "U64_MAX", "ULONG_MAX", "~0ULL", "~0UL", "-1", "~0", "(u64)-1", "-1ULL"}


class KnowledgeError(Exception):
    """A malformed knowledge-base file."""


def rules_dir() -> Path:
    """Where rule files live: inside the wheel, or beside the package in a checkout."""
    packaged = Path(__file__).parent / "_rules"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "rules"


class Primitive(NamedTuple):
    name: str
    kind: str  # "primitive" or "model"
    effects: tuple[str, ...]
    reason: str
    whole_range: tuple[int, int] | None = None
    partial: tuple[str, ...] = ()
    state_arg: int | None = None

    def effects_of(self, call: Call, env: Mapping[str, int]) -> tuple[str, ...]:
        if self.whole_range is None:
            return self.effects
        start, last = self.whole_range
        if len(call.args) <= max(start, last):
            return self.partial
        first_value = evaluate(call.args[start], env)
        last_text = call.arg_texts[last].replace(" ", "")
        whole = first_value == 0 and (last_text in ALL_ONES or evaluate(call.args[last], env) == -1)
        return self.effects if whole else self.partial

    def state_key(self, call: Call) -> str | None:
        if self.state_arg is None or self.state_arg >= len(call.arg_paths):
            return None
        return call.arg_paths[self.state_arg] or None


@dataclass(frozen=True)
class KnowledgeBase:
    entries: Mapping[str, Primitive]

    def get(self, name: str) -> Primitive | None:
        return self.entries.get(name)


def _entry(kind: str, raw: dict[str, object], where: str) -> Primitive:
    name = raw.get("name")
    effects = raw.get("effects")
    reason = raw.get("reason")
    if not isinstance(name, str) or not name:
        raise KnowledgeError(f"{where}: entry without a name")
    if not isinstance(reason, str) or not reason.strip():
        raise KnowledgeError(f"{where}: {name}: every entry needs a reason")
    if not isinstance(effects, list) or not all(e in EFFECTS for e in effects):
        raise KnowledgeError(f"{where}: {name}: effects must be a list of {sorted(EFFECTS)}")
    partial = raw.get("partial", [])
    if not isinstance(partial, list) or not all(e in EFFECTS for e in partial):
        raise KnowledgeError(f"{where}: {name}: partial must be a list of effects")
    whole = raw.get("whole_range")
    if whole is not None and not (
        isinstance(whole, list) and len(whole) == 2 and all(isinstance(i, int) for i in whole)
    ):
        raise KnowledgeError(f"{where}: {name}: whole_range must be [start_arg, last_arg]")
    state_arg = raw.get("state_arg")
    if state_arg is not None and not isinstance(state_arg, int):
        raise KnowledgeError(f"{where}: {name}: state_arg must be an argument index")
    unknown = set(raw) - {"name", "effects", "reason", "partial", "whole_range", "state_arg"}
    if unknown:
        raise KnowledgeError(f"{where}: {name}: unknown keys {sorted(unknown)}")
    return Primitive(
        name,
        kind,
        tuple(effects),
        reason,
        (whole[0], whole[1]) if whole else None,
        tuple(partial),
        state_arg,
    )


def load_knowledge(path: Path | None = None) -> KnowledgeBase:
    path = path or rules_dir() / "primitives.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise KnowledgeError(f"{path.name}: {err}") from None
    entries: dict[str, Primitive] = {}
    for kind in ("primitive", "model"):
        for raw in data.get(kind, []):
            p = _entry(kind, raw, path.name)
            if p.name in entries:
                raise KnowledgeError(f"{path.name}: {p.name} is listed twice")
            entries[p.name] = p
    extra = set(data) - {"primitive", "model"}
    if extra:
        raise KnowledgeError(f"{path.name}: unknown tables {sorted(extra)}")
    return KnowledgeBase(entries)
