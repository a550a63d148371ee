"""The reference model (SPEC §5): a compliant vDPA parent and the upper layers driving it.

A device is its per-ASID IOTLB contents and its group-to-ASID bindings. The
upper layers are vhost-vdpa (with and without VHOST_BACKEND_F_IOTLB_PERSIST)
and virtio-vdpa, as Linux commit bc91df5c70ac has them: vdpa_reset(vdev, flags) calls
.compat_reset when it exists and flags are set, else .reset; vhost-vdpa sets
VDPA_RESET_F_CLEAN_MAP for userspace without IOTLB_PERSIST, and restores an
address space with .reset_map when it releases it.

Each scenario is replayed twice, on the compliant model and on the driver's
extracted op effects (`DriverEffects`); the first step where the two states
differ is where the driver breaks the obligation, with what userspace sees.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

# What an IOTLB (one per ASID) can hold, as the upper layer sees it.
INITIAL = "initial 1:1 passthrough"
USER_MAPS = "userspace maps"
EMPTY = "empty"
UNKNOWN = "unknown"

MET, VIOLATED, NOT_APPLICABLE, UNDECIDED = "met", "violated", "not applicable", "unknown"

Tri = bool | None  # True / False / not known (analysis gap)


CLEAR, RESTORE, LOST = "clear", "restore", "unknown"  # what an op does to one address space


class OpEffects(NamedTuple):
    """What one op does to the model's state, as the analysis extracted it: in path order,
    per address space (ASID 0, ASID 1), built from the op's instantiated summary; the
    booleans say the same in short (and stand alone where no order is known)."""

    present: bool = False
    clears_map: Tri = False
    restores_passthrough: Tri = False
    resets_bindings: Tri = False
    asids: tuple[tuple[str, ...], tuple[str, ...]] | None = None  # ordered actions per ASID


class DriverEffects(NamedTuple):
    api_ops: frozenset[str]
    ops: frozenset[str]
    reset: OpEffects
    compat_clean: OpEffects  # .compat_reset(vdev, VDPA_RESET_F_CLEAN_MAP)
    reset_map: OpEffects  # .reset_map(vdev, asid), the ASID symbolic
    reset_map_asid: tuple[OpEffects, OpEffects] = (OpEffects(), OpEffects())  # called with 0, with 1
    initial: str = "initial 1:1 passthrough"  # what every address space holds at creation
    initial_source: str = "the contract's default (d2cf1b6e3b85)"


class State(NamedTuple):
    iotlb: tuple[str, str]  # ASID 0 and ASID 1
    desc_group_asid: int | None  # None: not known

    def show(self) -> str:
        group = "?" if self.desc_group_asid is None else str(self.desc_group_asid)
        return f"ASID 0: {self.iotlb[0]}; ASID 1: {self.iotlb[1]}; descriptor group -> ASID {group}"


class Step(NamedTuple):
    action: str
    expected: str
    driver: str
    diverges: bool
    expected_state: State | None = None  # the same states, as values, for pictures
    driver_state: State | None = None


class Obligation(NamedTuple):
    key: str
    title: str
    status: str
    reason: str = ""  # why not applicable or unknown
    steps: tuple[Step, ...] = ()
    first_divergence: int | None = None  # 1-based step index
    observed: str = ""  # what userspace sees where the driver diverges


START = State((INITIAL, INITIAL), 0)
# The ops of a parent with an on-chip IOMMU (in the order messages name them).
ONCHIP_OPS = ("set_map", "dma_map", "dma_unmap")

Action = Callable[[State], State]


def _apply_asids(iotlb: tuple[str, str], op: OpEffects, initial: str = INITIAL) -> tuple[str, str]:
    """The op's ordered actions on each address space."""
    assert op.asids is not None
    out = list(iotlb)
    for asid, actions in enumerate(op.asids):
        for act in actions:
            out[asid] = {CLEAR: EMPTY, RESTORE: initial, LOST: UNKNOWN}[act]
    return (out[0], out[1])


def _apply_reset(state: State, op: OpEffects, initial: str = INITIAL) -> State:
    iotlb = state.iotlb
    if op.asids is not None:
        iotlb = _apply_asids(iotlb, op, initial)
    elif op.clears_map is None:
        iotlb = (UNKNOWN, UNKNOWN)
    elif op.clears_map:
        after = INITIAL if op.restores_passthrough else EMPTY
        iotlb = (after, after)
    group = state.desc_group_asid
    if op.resets_bindings is None:
        group = None
    elif op.resets_bindings:
        group = 0
    return State(iotlb, group)


# The compliant parent: .reset keeps maps and returns every group to ASID 0;
# .compat_reset(CLEAN_MAP) also puts every address space back to its initial map.
_COMPLIANT_RESET = OpEffects(True, False, False, True)
_COMPLIANT_COMPAT = OpEffects(True, True, True, True)


def user_maps_in_asid0(s: State) -> bool | None:
    """Whether the upper layer's maps are still in ASID 0 (None: not known)."""
    return None if s.iotlb[0] == UNKNOWN else s.iotlb[0] == USER_MAPS


def desc_group(s: State) -> int | None:
    return s.desc_group_asid


def asid0(s: State) -> str | None:
    return None if s.iotlb[0] == UNKNOWN else s.iotlb[0]


class _Replay:
    """One scenario on both models, step by step, compared on what the obligation is about."""

    def __init__(self, focus: Callable[[State], object], start: State = START) -> None:
        self.focus = focus
        self.expected = start
        self.driver = start
        self.steps: list[Step] = []
        self.undecided = False

    def step(self, action: str, compliant: Action, driver: Action) -> None:
        self.expected = compliant(self.expected)
        self.driver = driver(self.driver)
        seen = self.focus(self.driver)
        self.undecided = self.undecided or seen is None
        diverges = seen is not None and seen != self.focus(self.expected)
        self.steps.append(
            Step(action, self.expected.show(), self.driver.show(), diverges, self.expected, self.driver)
        )

    def result(self, key: str, title: str, observe: Callable[[State], str]) -> Obligation:
        first = next((i for i, s in enumerate(self.steps, 1) if s.diverges), None)
        if first is not None:
            return Obligation(
                key,
                title,
                VIOLATED,
                steps=tuple(self.steps),
                first_divergence=first,
                observed=observe(self.driver),
            )
        if self.undecided:
            return Obligation(
                key, title, UNDECIDED, "the analysis could not decide what an op does", tuple(self.steps)
            )
        return Obligation(key, title, MET, steps=tuple(self.steps))


def _set_map(asid: int) -> Action:
    def act(s: State) -> State:
        iotlb = list(s.iotlb)
        iotlb[asid] = USER_MAPS
        return State((iotlb[0], iotlb[1]), s.desc_group_asid)

    return act


def _vdpa_reset(d: DriverEffects, clean_map: bool) -> Action:
    """vdpa_reset(vdev, flags) as vhost-vdpa and virtio-vdpa call it (bc91df5c70ac)."""
    if clean_map and d.compat_clean.present:
        return lambda s: _apply_reset(s, d.compat_clean, d.initial)
    return lambda s: _apply_reset(s, d.reset, d.initial)


def _start(d: DriverEffects) -> State:
    return State((d.initial, d.initial), 0)


def user_maps_in_both(s: State) -> tuple[bool, bool] | None:
    """Whether the upper layer's maps are still in ASID 0 and in ASID 1 (None: not known)."""
    if UNKNOWN in s.iotlb:
        return None
    return (s.iotlb[0] == USER_MAPS, s.iotlb[1] == USER_MAPS)


def both_asids(s: State) -> tuple[str, str] | None:
    return None if UNKNOWN in s.iotlb else s.iotlb


def maps_survive_reset(d: DriverEffects) -> Obligation:
    key, title = "maps-survive-reset", "map ASID 0 and ASID 1, then reset (userspace with IOTLB_PERSIST)"
    if d.ops.isdisjoint(ONCHIP_OPS):
        return Obligation(key, title, NOT_APPLICABLE, "platform IOMMU: no .set_map/.dma_map")
    r = _Replay(user_maps_in_both, _start(d))
    r.step("userspace maps guest memory in ASID 0 (.set_map/.dma_map)", _set_map(0), _set_map(0))
    r.step("userspace maps its shadow rings in ASID 1", _set_map(1), _set_map(1))
    r.step(
        "vhost-vdpa resets the device: vdpa_reset(flags 0) -> .reset",
        lambda s: _apply_reset(s, _COMPLIANT_RESET),
        _vdpa_reset(d, clean_map=False),
    )
    return r.result(
        key,
        title,
        lambda s: (
            f"ASID 0 is {s.iotlb[0]} and ASID 1 is {s.iotlb[1]} while vhost-vdpa still holds the maps: "
            "device DMA faults until userspace sends every map again"
        ),
    )


def old_userspace_keeps_behaviour(d: DriverEffects) -> Obligation:
    key, title = "old-userspace-reset", "reset by userspace without IOTLB_PERSIST (CLEAN_MAP)"
    if "compat_reset" not in d.api_ops:
        return Obligation(key, title, NOT_APPLICABLE, "the tree's vdpa.h has no .compat_reset")
    if not d.compat_clean.present:
        return Obligation(
            key, title, NOT_APPLICABLE, "no .compat_reset: old and new userspace get the same .reset"
        )
    r = _Replay(user_maps_in_asid0, _start(d))
    r.step("userspace maps guest memory in ASID 0", _set_map(0), _set_map(0))
    r.step(
        "vhost-vdpa resets with VDPA_RESET_F_CLEAN_MAP -> .compat_reset",
        lambda s: _apply_reset(s, _COMPLIANT_COMPAT, d.initial),
        _vdpa_reset(d, clean_map=True),
    )
    return r.result(
        key,
        title,
        lambda s: (
            f"ASID 0 is {s.iotlb[0]}: old userspace that relied on reset "
            "clearing the maps finds them still installed"
        ),
    )


def release_restores_initial_map(d: DriverEffects) -> Obligation:
    key, title = "release-then-reuse", "release an ASID, then reuse the device (virtio-vdpa)"
    if "reset_map" not in d.api_ops:
        return Obligation(key, title, NOT_APPLICABLE, "the tree's vdpa.h has no .reset_map")
    if d.ops.isdisjoint(ONCHIP_OPS):
        return Obligation(key, title, NOT_APPLICABLE, "platform IOMMU: no .set_map/.dma_map")
    if not d.reset_map.present and not d.compat_clean.present:
        return Obligation(
            key,
            title,
            NOT_APPLICABLE,
            ".reset_map is optional for a parent that never cleared maps in reset (commit d2cf1b6e3b85)",
        )
    r = _Replay(asid0, _start(d))  # empty is not the initial mapping either
    r.step("userspace maps guest memory in ASID 0", _set_map(0), _set_map(0))

    def driver_release(s: State) -> State:
        # What the driver's own .reset_map does, not what its contract says it should
        # (d2cf1b6e3b85): a .reset_map that does nothing leaves the previous user's maps.
        op = d.reset_map
        if not op.present:
            return s
        if d.reset_map_asid[0].asids is not None:
            return State(_apply_asids(s.iotlb, d.reset_map_asid[0], d.initial), s.desc_group_asid)
        if op.restores_passthrough is None:
            after = UNKNOWN
        elif op.restores_passthrough:
            after = d.initial
        elif op.clears_map:
            after = EMPTY
        elif op.clears_map is None:
            after = UNKNOWN
        else:
            after = s.iotlb[0]
        return State((after, s.iotlb[1]), s.desc_group_asid)

    r.step(
        "vhost-vdpa releases ASID 0: .reset_map(0)",
        lambda s: State((d.initial, s.iotlb[1]), s.desc_group_asid),
        driver_release,
    )
    r.step(
        "virtio-vdpa binds and resets: vdpa_reset(flags 0) -> .reset",
        lambda s: _apply_reset(s, _COMPLIANT_RESET),
        _vdpa_reset(d, clean_map=False),
    )
    return r.result(
        key,
        title,
        lambda s: (
            f"ASID 0 is {s.iotlb[0]}: the kernel virtio driver's DMA goes through the previous user's maps"
        ),
    )


def release_keeps_other_asids(d: DriverEffects) -> Obligation:
    key, title = "release-one-asid", "map ASID 0 and ASID 1, release ASID 1 (.reset_map(1))"
    if "reset_map" not in d.api_ops:
        return Obligation(key, title, NOT_APPLICABLE, "the tree's vdpa.h has no .reset_map")
    if d.ops.isdisjoint(ONCHIP_OPS):
        return Obligation(key, title, NOT_APPLICABLE, "platform IOMMU: no .set_map/.dma_map")
    if not d.reset_map.present:
        return Obligation(key, title, NOT_APPLICABLE, "no .reset_map: vhost-vdpa leaves released ASIDs alone")
    r = _Replay(both_asids, _start(d))
    r.step("userspace maps guest memory in ASID 0", _set_map(0), _set_map(0))
    r.step("userspace maps its shadow rings in ASID 1", _set_map(1), _set_map(1))
    one = d.reset_map_asid[1]

    def driver(s: State) -> State:
        if one.asids is not None:
            return State(_apply_asids(s.iotlb, one, d.initial), s.desc_group_asid)
        if one.restores_passthrough is None or one.clears_map is None:
            return State((s.iotlb[0], UNKNOWN), s.desc_group_asid)
        after = d.initial if one.restores_passthrough else (EMPTY if one.clears_map else s.iotlb[1])
        return State((s.iotlb[0], after), s.desc_group_asid)

    r.step(
        "vhost-vdpa releases ASID 1: .reset_map(1)",
        lambda s: State((s.iotlb[0], d.initial), s.desc_group_asid),
        driver,
    )
    return r.result(
        key,
        title,
        lambda s: (
            f"after releasing ASID 1, ASID 0 is {s.iotlb[0]} and ASID 1 is {s.iotlb[1]}: "
            "the address space still in use lost its maps, or the released one kept the old user's"
        ),
    )


def groups_return_to_asid0(d: DriverEffects) -> Obligation:
    key, title = "desc-group-asid-reset", "descriptor group moved to ASID 1, then reset"
    if "set_group_asid" not in d.ops:
        return Obligation(key, title, NOT_APPLICABLE, "no .set_group_asid: every group stays in ASID 0")
    r = _Replay(desc_group, _start(d))

    def move(s: State) -> State:
        return State(s.iotlb, 1)

    r.step(".set_group_asid(descriptor group, 1)", move, move)
    r.step(
        "device reset: vdpa_reset(flags 0) -> .reset",
        lambda s: _apply_reset(s, _COMPLIANT_RESET),
        _vdpa_reset(d, clean_map=False),
    )
    return r.result(
        key,
        title,
        lambda s: (
            "the descriptor group stays in ASID 1 after reset: the next user's "
            "rings are read through another address space"
        ),
    )


def dma_ops_pair(d: DriverEffects) -> Obligation:
    key, title = "dma-map-unmap", ".dma_map then .dma_unmap"
    have = d.ops & {"dma_map", "dma_unmap"}
    if not have:
        return Obligation(key, title, NOT_APPLICABLE, "no .dma_map/.dma_unmap")
    r = _Replay(asid0, _start(d))
    r.step(".dma_map(ASID 0, range)", _set_map(0), _set_map(0) if "dma_map" in have else (lambda s: s))

    def unmap(s: State) -> State:
        return State((EMPTY, s.iotlb[1]), s.desc_group_asid)

    r.step(".dma_unmap(ASID 0, range)", unmap, unmap if "dma_unmap" in have else (lambda s: s))
    return r.result(key, title, lambda s: "the vdpa core refuses a device with only one of the pair")


OBLIGATIONS = (
    maps_survive_reset,
    old_userspace_keeps_behaviour,
    release_restores_initial_map,
    release_keeps_other_asids,
    groups_return_to_asid0,
    dma_ops_pair,
)
OBLIGATION_TITLES = {
    "maps-survive-reset": "maps survive reset",
    "old-userspace-reset": "old userspace: reset clears",
    "release-then-reuse": "release restores initial map",
    "release-one-asid": "release touches only its ASID",
    "desc-group-asid-reset": "reset returns groups to ASID 0",
    "dma-map-unmap": "dma_map / unmap paired",
}


def replay(d: DriverEffects) -> tuple[Obligation, ...]:
    return tuple(check(d) for check in OBLIGATIONS)


def verdict(obligations: tuple[Obligation, ...], severities: frozenset[str] = frozenset()) -> str:
    """A table's verdict: the model's obligations and the findings on the table agree by
    construction (an error or warning is never 'compliant'; an unknown never either)."""
    statuses = {o.status for o in obligations}
    if VIOLATED in statuses or severities & {"error", "warning"}:
        return "violating"
    if UNDECIDED in statuses or "unknown" in severities:
        return "undecided"
    return "compliant"
