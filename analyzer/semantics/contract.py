"""What the contract asks of effects: whose maps a delete destroys, whether a call the
analysis could not follow matters, what state an op leaves an address space in.

The upper layer's region of an IOTLB is what the driver's own .set_map/.dma_map write
(which object, which range), less any window the driver installs for itself outside
those ops (VDUSE's bounce window): a reset-path delete that overlaps it clears the
upper layer's maps (a26f2e4e68ee, d2cf1b6e3b85).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from analyzer.semantics import conds as C
from analyzer.semantics import values as V
from analyzer.semantics.summaries import Effect
from analyzer.semantics.values import Value


class Written(NamedTuple):
    """A range the upper layer's maps may occupy: IOTLB object and [lo, hi]."""

    obj: Value
    lo: Value
    hi: Value
    effect: Effect | None  # where .set_map/.dma_map writes it (None: assumed)


ANY_IOTLB = Written(V.unknown("any IOTLB"), V.ZERO, V.const(V.MASK64), None)


def user_region(op_effects: Iterable[tuple[Effect, ...] | None]) -> tuple[Written, ...]:
    """The upper layer's region: the adds of .set_map/.dma_map. An op whose body is not in
    the tree (None), or that calls something the analysis cannot follow, may write any
    IOTLB anywhere."""
    out: list[Written] = []
    for effects in op_effects:
        if effects is None:
            return (ANY_IOTLB,)
        for e in effects:
            if e.kind == "add":
                out.append(Written(e.obj, e.lo, e.hi, e))
            elif e.kind in ("unknown", "gap") or (e.kind == "extern" and any(_bare(a) for a in e.args)):
                return (ANY_IOTLB,)  # handed the device or the maps: it may write anywhere
    return tuple(out)


def _bare(v: Value) -> bool:
    """A parameter itself (the device, the IOTLB handed in), through casts and container_of."""
    return V.chain(v) == () and V.root(v) is not None and V.root(v)[0] == "param"  # type: ignore[index]


def same_end(a: Value, b: Value) -> bool:
    la, lb = V.linear(a), V.linear(b)
    if la is None or lb is None:
        return False
    if la[1] != lb[1]:
        return False
    if la[0] is None or lb[0] is None:
        return la[0] is lb[0]
    return V.chain(la[0]) is not None and V.chain(lb[0]) is not None and V.may_alias(la[0], lb[0])


def same_range(a: tuple[Value, Value], b: tuple[Value, Value]) -> bool:
    return same_end(a[0], b[0]) and same_end(a[1], b[1])


def overlaps_region(e: Effect, region: tuple[Written, ...]) -> Written | None:
    """The first user range a delete may destroy, if any. An object allocated on the op's own
    path (an error path freeing what it just built) holds none of the upper layer's maps."""
    base = V.root(e.obj)
    if base is not None and base[0] == "fresh":
        return None
    for w in region:
        if w is ANY_IOTLB:
            return w
        if V.may_alias(e.obj, w.obj) and V.overlaps((e.lo, e.hi), (w.lo, w.hi)) is not False:
            return w
    return None


def in_window(e: Effect, windows: Iterable[Effect]) -> Effect | None:
    """A kernel-owned window (an add outside .set_map/.dma_map, narrower than the whole
    IOVA space) that this delete stays within."""
    if V.is_whole((e.lo, e.hi)):
        return None
    for w in windows:
        if V.is_whole((w.lo, w.hi)):
            continue
        if V.may_alias(e.obj, w.obj) and (
            same_range((e.lo, e.hi), (w.lo, w.hi)) or V.within((e.lo, e.hi), (w.lo, w.hi))
        ):
            return w
    return None


def live(effects: Iterable[Effect]) -> list[Effect]:
    return [e for e in effects if e.cond]


def matters(e: Effect, iotlb_members: frozenset[str]) -> bool:
    """Whether a call the analysis could not follow can reach the upper layer's maps: it is
    an IOTLB function, or it is passed the device itself or a member whose type holds an
    IOTLB (program.iotlb_members)."""
    if e.kind == "gap" or (e.kind == "unknown" and e.obj[0] == "unk" and "IOTLB API" in e.why):
        return True
    if e.kind == "unknown" and "queues a work item" in e.why:
        # its handler gets back to whatever holds the work item (container_of): the device
        return any(V.root(a) == ("param", 0) for a in e.args)
    candidates = list(e.args)
    if e.kind == "unknown":
        candidates.append(e.obj)
    for a in candidates:
        ch = V.chain(a)
        if ch is None or V.root(a) != ("param", 0):
            continue
        if not ch or ch[-1] in iotlb_members:
            return True  # the device (through container_of as it may be), or what holds its IOTLBs
    return False


def identity_whole(e: Effect) -> bool:
    """An add of [0, all ones] mapped onto itself: the 1:1 passthrough (d2cf1b6e3b85)."""
    return e.kind == "add" and V.is_whole((e.lo, e.hi)) and V.u64(e.value) == V.ZERO


def certainly(e: Effect) -> bool:
    return C.truth(e.cond) is True
