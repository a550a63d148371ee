"""What the check and gate HTML reports share: links and excerpts, finding cards, driver
details, the obligation matrix, the Jinja2 environment (autoescape: all tree text is text)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyzer.findings import SEVERITY_RANK, DriverReport, Finding, TraceStep
from analyzer.formats.links import SourceUrl, excerpt_id, slug
from analyzer.formats.svg import glyphs, replay_picture
from analyzer.model import INITIAL, MET, ONCHIP_OPS, Obligation, State

if TYPE_CHECKING:
    import jinja2

SNIPPET_CONTEXT = 2  # lines shown above and below a line in the excerpts
CARD_CONTEXT = 1  # in a finding's card, where three findings must fit in one screen

# Which rules speak about which obligation: a violated cell links to their finding.
OBLIGATION_RULES = {
    "maps-survive-reset": ("VDPA001", "VDPA002"),
    "old-userspace-reset": ("VDPA003", "VDPA004", "VDPA009"),
    "release-then-reuse": ("VDPA010", "VDPA005"),
    "release-one-asid": ("VDPA010",),
    "desc-group-asid-reset": ("VDPA008", "VDPA007"),
    "dma-map-unmap": ("VDPA006",),
}
# What each replay compares (model.py's focus functions), to say why other differences do not matter.
FOCUS = {
    "desc-group-asid-reset": "which ASID the descriptor group is bound to",
    "dma-map-unmap": "what ASID 0 holds",
}
DEFAULT_FOCUS = "whether ASID 0 still holds the upper layer's maps"


def plural(n: int, word: str) -> str:
    if n == 1:
        return f"{n} {word}"
    return f"{n} {word}{'es' if word.endswith(('s', 'sh', 'ch', 'x')) else 's'}"


def by_severity(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (-SEVERITY_RANK[f.severity], *f.sort_key()))


class Sources:
    """Every path:line of one tree state: its link, and the excerpts the report holds."""

    def __init__(self, lines: Mapping[str, Sequence[str]], state: str = "", url: SourceUrl | None = None):
        self.lines, self.state, self.url = lines, state, url
        self.inlined: set[tuple[str, int]] = set()
        self.excerpts: dict[tuple[str, int], dict[str, Any]] = {}

    def _excerpt(self, path: str, line: int, context: int = SNIPPET_CONTEXT) -> list[dict[str, Any]]:
        lines = self.lines.get(path, ())
        if not 1 <= line <= len(lines):
            return []
        lo, hi = max(1, line - context), min(len(lines), line + context)
        return [
            {"no": n, "text": lines[n - 1].expandtabs(8), "flagged": n == line} for n in range(lo, hi + 1)
        ]

    def inline(self, path: str, line: int) -> dict[str, Any] | None:
        """The excerpt shown in a finding card; it carries the line's anchor if nothing did yet."""
        lines = self._excerpt(path, line, CARD_CONTEXT)
        if not lines:
            return None
        key = (path, line)
        anchor = None
        if key not in self.inlined and key not in self.excerpts:
            self.inlined.add(key)
            anchor = excerpt_id(self.state, path, line)
        return {"id": anchor, "lines": lines}

    def href(self, path: str, line: int) -> str | None:
        if self.url is not None:
            return self.url.url(path, line)
        key = (path, line)
        if key not in self.inlined and key not in self.excerpts:
            lines = self._excerpt(path, line)
            if not lines:
                return None
            self.excerpts[key] = {
                "id": excerpt_id(self.state, path, line),
                "path": path,
                "line": line,
                "lines": lines,
            }
        return "#" + excerpt_id(self.state, path, line)

    def appendix(self) -> list[dict[str, Any]]:
        return [self.excerpts[k] for k in sorted(self.excerpts)]


class Anchors:
    """Ids unique in one page, stable across runs (derived from names, not counters)."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, wanted: str) -> str:
        anchor, n = wanted, 1
        while anchor in self.used:
            n += 1
            anchor = f"{wanted}-{n}"
        self.used.add(anchor)
        return anchor


def finding_cards(
    findings: Sequence[Finding], sources: Sources, anchors: Anchors, prefix: str = "f"
) -> list[dict[str, Any]]:
    """Cards for findings, in the order given. Excerpts of the flagged lines are claimed
    first, so every trace link to the same line lands on a card, not the appendix."""
    inline = [sources.inline(f.path, f.line) for f in findings]
    cards = []
    for f, snippet in zip(findings, inline, strict=True):
        where = f"ops table {f.ops_table.name}" if f.ops_table else "here"
        steps: tuple[TraceStep, ...] = f.trace or (TraceStep("", f.path, f.line, f.column, where),)
        cards.append(
            {
                "f": f,
                "anchor": anchors.take(f"{prefix}-{f.fingerprint()[:12]}"),
                "href": sources.href(f.path, f.line),
                "snippet": snippet,
                "steps": [{"s": s, "href": sources.href(s.path, s.line)} for s in steps],
                "table_anchor": None,  # set by driver_view
                "picture": None,
                "picture_label": "",
            }
        )
    return cards


def _differences(o: Obligation) -> str:
    """Where a met obligation's driver state still differs from the compliant parent's, and why
    that does not break this obligation; '' where they agree."""
    for n, s in enumerate(o.steps, 1):
        e, d = s.expected_state, s.driver_state
        if e is None or d is None or e == d:
            continue
        parts = [
            f"{name} is {dv} where the compliant parent has {ev}"
            for name, ev, dv in (
                ("ASID 0", e.iotlb[0], d.iotlb[0]),
                ("ASID 1", e.iotlb[1], d.iotlb[1]),
                ("the descriptor group's ASID", _asid(e), _asid(d)),
            )
            if ev != dv
        ]
        focus = FOCUS.get(o.key, DEFAULT_FOCUS)
        return f"After step {n}, {'; '.join(parts)}. This obligation asks only {focus}, and that agrees."
    return ""


def _asid(s: State) -> str:
    return "unknown" if s.desc_group_asid is None else str(s.desc_group_asid)


def driver_view(
    d: DriverReport, sources: Sources, anchors: Anchors, cards: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    anchor = anchors.take(f"t-{slug(d.table.name)}")
    locations = {op: (p, n) for op, p, n in d.op_locations}
    conditional = dict(d.conditional_ops)
    mine = [
        c
        for c in cards
        if c["f"].ops_table and (c["f"].ops_table.path, c["f"].ops_table.name) == (d.table.path, d.table.name)
    ]
    for c in mine:
        c["table_anchor"] = anchor
    initial = d.effects.initial if d.effects is not None else INITIAL  # where the replays start
    obligations = []
    for o in d.obligations:
        replay = anchors.take(f"{anchor}-{o.key}")
        order = OBLIGATION_RULES.get(o.key, ())
        explaining = sorted(
            (c for c in mine if c["f"].rule_id in order), key=lambda c: order.index(c["f"].rule_id)
        )
        differs = _differences(o) if o.status == MET else ""
        # a cell links to the finding most directly about it (VDPA001 before VDPA002), which
        # also carries the picture; to the replay where no finding explains it
        href = "#" + (explaining[0]["anchor"] if o.status != MET and explaining else replay)
        if explaining and explaining[0]["picture"] is None:
            explaining[0]["picture"] = replay_picture(o, initial)
            explaining[0]["picture_label"] = f"{o.title}: {o.status}"
        obligations.append(
            {
                "o": o,
                "anchor": replay,
                "href": href,
                "picture": replay_picture(o, initial),
                "differs": differs,
                "findings": explaining,
            }
        )
    ops = [
        {
            "op": e.op,
            "function": e.function,
            "where": locations.get(e.op),
            "shown": _near(d.table.path, locations[e.op][0]) if e.op in locations else "",
            "href": sources.href(*locations[e.op]) if e.op in locations else None,
            "conditional": conditional.get(e.op, ""),
        }
        for e in d.table.entries
        if e.function is not None
    ]
    present = {e.op for e in d.table.entries if e.function is not None}
    api_ops = d.effects.api_ops if d.effects is not None else None
    return {
        "d": d,
        "anchor": anchor,
        "verdict": d.verdict,
        "href": sources.href(d.table.path, d.table.line),
        "ops": ops,
        "onchip": not present.isdisjoint(ONCHIP_OPS),
        "glyphs": glyphs(present, set(conditional), api_ops),
        "obligations": obligations,
        "unfollowed": [
            {"u": u, "href": sources.href(u.path, u.line), "text": f".{u.op}: {u.callee}: {u.why}"}
            for u in d.unfollowed
        ],
        "findings": mine,
    }


def _near(table_path: str, path: str) -> str:
    """A function's file as seen from its ops table's directory, when it is there."""
    here = table_path.rpartition("/")[0] + "/"
    return path.removeprefix(here) if path.startswith(here) else path


def environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent.parent / "templates"),
        autoescape=True,  # everything shown comes from the scanned tree: never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["plural"] = plural
    return env
