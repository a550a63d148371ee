"""Geometry of the report's pictures; the template draws them as inline SVG (escaped by
Jinja2 like every other text). A replay is a time axis of the upper layer's actions and,
per ASID and for the descriptor group, two lanes: the compliant parent and the driver.

Any state string is drawn: the four states the model knows have their own fill and
pattern, anything else gets a dotted pattern; every cell carries its state as a label,
so the picture reads without colour."""

from __future__ import annotations

from typing import Any, NamedTuple

from analyzer.model import EMPTY, INITIAL, START, UNKNOWN, USER_MAPS, Obligation, State


class Look(NamedTuple):
    label: str
    style: str  # a class of the report's stylesheet: fill (a pattern of the shared defs) and stroke


LOOKS = {
    USER_MAPS: Look("user maps", "s-user"),
    INITIAL: Look("passthrough", "s-initial"),  # the initial 1:1 map
    EMPTY: Look("empty", "s-empty"),
    UNKNOWN: Look("unknown", "s-unknown"),
}
MAX_LABEL = 17

LABEL_W, COL_W, AXIS_H, LANE_H, LANE_GAP, ROW_GAP = 118, 96, 26, 15, 2, 6


def look(state: str) -> Look:
    known = LOOKS.get(state)
    if known is not None:
        return known
    label = state if len(state) <= MAX_LABEL else state[: MAX_LABEL - 1] + "…"
    return Look(label, "s-other")


def _group_look(asid: int | None) -> Look:
    if asid is None:
        return LOOKS[UNKNOWN]
    return Look(f"ASID {asid}", "s-asid0" if asid == 0 else "s-asid1")


def _rows(states: list[tuple[State, State]]) -> list[tuple[str, list[tuple[Look, Look, str, str]]]]:
    """(row title, per column (parent look, driver look, parent text, driver text))."""
    rows = []
    for asid in (0, 1):
        cells = [(look(p.iotlb[asid]), look(d.iotlb[asid]), p.iotlb[asid], d.iotlb[asid]) for p, d in states]
        rows.append((f"ASID {asid}", cells))
    cells = []
    for p, d in states:
        pg, dg = p.desc_group_asid, d.desc_group_asid
        cells.append(
            (_group_look(pg), _group_look(dg), f"ASID {pg}", "unknown" if dg is None else f"ASID {dg}")
        )
    rows.append(("desc group", cells))
    return rows


def replay_picture(o: Obligation, initial: str = INITIAL) -> dict[str, Any] | None:
    """What the template needs to draw one obligation's replay, from the driver's initial
    mapping (what its creation path installs); None without structured steps."""
    if not o.steps or any(s.expected_state is None or s.driver_state is None for s in o.steps):
        return None
    start = State((initial, initial), START.desc_group_asid)
    states: list[tuple[State, State]] = [(start, start)]
    states += [(s.expected_state, s.driver_state) for s in o.steps if s.expected_state and s.driver_state]
    width = LABEL_W + COL_W * len(states)
    columns = [
        {
            "x": LABEL_W + COL_W * i,
            "cx": LABEL_W + COL_W * i + COL_W // 2,
            "label": "start" if i == 0 else str(i),
        }
        for i in range(len(states))
    ]
    for col, step in zip(columns[1:], o.steps, strict=True):
        col["action"] = step.action
    cells, titles, y = [], [], AXIS_H
    for title, row in _rows(states):
        titles.append({"y": y, "text": title})
        for lane, who in ((0, "parent"), (1, "driver")):
            ly = y + lane * (LANE_H + LANE_GAP)
            titles.append({"y": ly, "text": who, "lane": True})
            for i, (p_look, d_look, p_text, d_text) in enumerate(row):
                mine = p_look if lane == 0 else d_look
                differs = lane == 1 and p_text != d_text
                text = p_text if lane == 0 else d_text
                cut = mine.style == "s-other" and mine.label != text
                x = LABEL_W + COL_W * i + 5
                cells.append(
                    {
                        "x": x,
                        "y": ly,
                        "tx": x + (COL_W - 10) // 2,
                        "look": mine,
                        "label": ("≠ " if differs else "") + mine.label,
                        # a state the model may grow is named in full where its label is cut
                        "title": f"{title}, {who}: {text}" if cut else "",
                        "differs": differs,
                    }
                )
        y += 2 * LANE_H + LANE_GAP + ROW_GAP
    first = o.first_divergence
    mark = None
    if first is not None:
        mark = {"x": LABEL_W + COL_W * first + 1, "w": COL_W - 2, "y": 2, "h": y - ROW_GAP + 2}
    return {
        "w": width,
        "h": y - ROW_GAP + 6,
        "lane_x": LABEL_W - 4,
        "cell_w": COL_W - 10,
        "cell_h": LANE_H,
        "columns": columns,
        "titles": titles,
        "cells": cells,
        "mark": mark,
    }


# The per-driver glyph row of the matrix: which ops shape the contract the driver is under.
GLYPHS = (
    ("M", "on-chip IOMMU ops (.set_map / .dma_map / .dma_unmap)", ("set_map", "dma_map", "dma_unmap")),
    ("C", ".compat_reset", ("compat_reset",)),
    ("R", ".reset_map", ("reset_map",)),
    ("G", "descriptor groups (.get_vq_desc_group)", ("get_vq_desc_group",)),
)


def glyphs(ops: set[str], conditional: set[str], api_ops: frozenset[str] | None) -> list[dict[str, Any]]:
    out = []
    for i, (letter, what, names) in enumerate(GLYPHS):
        have = [n for n in names if n in ops]
        if have and all(n in conditional for n in have):
            state, why = "conditional", f"{what}: present, may be absent at run time"
        elif have:
            state, why = "present", f"{what}: present"
        elif api_ops is not None and not any(n in api_ops for n in names):
            state, why = "no-api", f"{what}: not in this tree's vdpa.h"
        else:
            state, why = "absent", f"{what}: absent"
        out.append({"x": 1 + i * 19, "letter": letter, "state": state, "title": why})
    return out
