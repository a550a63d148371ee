"""The reference model on its own, and against fixture drivers."""

from __future__ import annotations

from conftest import FIXTURES, check_json

from analyzer.model import (
    MET,
    NOT_APPLICABLE,
    UNDECIDED,
    VIOLATED,
    DriverEffects,
    OpEffects,
    replay,
    verdict,
)

API_67 = frozenset(
    {"reset", "compat_reset", "reset_map", "set_map", "dma_map", "dma_unmap", "set_group_asid"}
)
API_61 = frozenset({"reset", "set_map", "dma_map", "dma_unmap", "set_group_asid"})
KEEPS = OpEffects(True, False, False, True)
CLEARS = OpEffects(True, True, False, True)
ABSENT = OpEffects()


def _driver(
    ops: set[str],
    reset: OpEffects,
    compat: OpEffects = ABSENT,
    reset_map: OpEffects = ABSENT,
    api: frozenset[str] = API_67,
) -> dict[str, tuple[str, int | None]]:
    per_asid = (reset_map, reset_map)  # the same effect whichever ASID it is given
    result = replay(DriverEffects(api, frozenset(ops), reset, compat, reset_map, per_asid))
    return {o.key: (o.status, o.first_divergence) for o in result}


def test_compliant_parent_meets_every_obligation() -> None:
    got = _driver(
        {"reset", "compat_reset", "set_map", "reset_map", "set_group_asid"},
        KEEPS,
        OpEffects(True, True, True, True),
        OpEffects(True, True, True, False),  # .reset_map: back to 1:1 passthrough
    )
    assert got == {
        "maps-survive-reset": (MET, None),
        "old-userspace-reset": (MET, None),
        "release-then-reuse": (MET, None),
        "release-one-asid": (MET, None),
        "desc-group-asid-reset": (MET, None),
        "dma-map-unmap": (NOT_APPLICABLE, None),
    }


def test_reset_that_clears_diverges_at_the_reset_step() -> None:
    [maps, *_] = replay(DriverEffects(API_67, frozenset({"reset", "set_map"}), CLEARS, ABSENT, ABSENT))
    assert (maps.status, maps.first_divergence) == (VIOLATED, 3)
    assert maps.steps[2].action.startswith("vhost-vdpa resets the device")
    assert "ASID 0: empty" in maps.steps[2].driver and "ASID 0: userspace maps" in maps.steps[2].expected
    assert "device DMA faults" in maps.observed
    assert verdict(
        replay(DriverEffects(API_67, frozenset({"reset", "set_map"}), CLEARS, ABSENT, ABSENT))
    ) == ("violating")


def test_compat_reset_that_does_not_clear_breaks_old_userspace() -> None:
    got = _driver({"reset", "compat_reset", "set_map", "reset_map"}, KEEPS, KEEPS, OpEffects(True))
    assert got["old-userspace-reset"] == (VIOLATED, 2)


def test_group_binding_kept_over_reset() -> None:
    got = _driver({"reset", "set_group_asid"}, OpEffects(True, False, False, False))
    assert got["desc-group-asid-reset"] == (VIOLATED, 2)


def test_unknown_effects_are_undecided_not_met() -> None:
    got = _driver({"reset", "set_map"}, OpEffects(True, None, None, None))
    assert got["maps-survive-reset"] == (UNDECIDED, None)


def test_old_api_makes_compat_obligations_not_applicable() -> None:
    got = _driver({"reset", "set_map"}, CLEARS, api=API_61)
    assert got["old-userspace-reset"][0] == NOT_APPLICABLE
    assert got["release-then-reuse"][0] == NOT_APPLICABLE


def test_reset_map_optional_without_compat_reset() -> None:
    got = _driver({"reset", "set_map"}, KEEPS)
    assert got["release-then-reuse"][0] == NOT_APPLICABLE
    got = _driver({"reset", "compat_reset", "set_map"}, KEEPS, OpEffects(True, True, True, True))
    assert got["release-then-reuse"] == (VIOLATED, 2)


def test_reset_map_that_does_nothing_breaks_release() -> None:
    """The model replays what .reset_map does, not its contract (d2cf1b6e3b85)."""
    ops = {"reset", "compat_reset", "set_map", "reset_map"}
    restores = OpEffects(True, True, True, False)
    assert _driver(ops, KEEPS, restores, restores)["release-then-reuse"] == (MET, None)
    assert _driver(ops, KEEPS, restores, OpEffects(True))["release-then-reuse"] == (VIOLATED, 2)
    unknown = OpEffects(True, None, None, None)
    assert _driver(ops, KEEPS, restores, unknown)["release-then-reuse"] == (UNDECIDED, None)


def test_unpaired_dma_ops() -> None:
    assert _driver({"reset", "dma_map"}, KEEPS)["dma-map-unmap"] == (VIOLATED, 2)
    assert _driver({"reset", "dma_unmap"}, KEEPS)["dma-map-unmap"] == (VIOLATED, 1)
    assert _driver({"reset", "dma_map", "dma_unmap"}, KEEPS)["dma-map-unmap"] == (MET, None)


def _obligations(tree: str) -> dict[str, dict[str, str]]:
    data = check_json(FIXTURES / tree)
    return {d["ops_table"]: {o["key"]: o["status"] for o in d["obligations"]} for d in data["drivers"]}


def test_fixture_drivers_replayed() -> None:
    demo = _obligations("demo-kernel")
    assert demo["legacy_ops"]["maps-survive-reset"] == VIOLATED
    assert set(demo["good_ops"].values()) <= {MET, NOT_APPLICABLE}
    rules = _obligations("table-rules")
    assert rules["as_table_kept_ops"]["desc-group-asid-reset"] == VIOLATED
    assert rules["as_vring_reset_ops"]["desc-group-asid-reset"] == MET
    assert rules["pr_map_only_ops"]["dma-map-unmap"] == VIOLATED
    assert rules["cp_garbled_ops"]["desc-group-asid-reset"] == NOT_APPLICABLE
    guards = _obligations("reset-guards")
    assert guards["gd_needless_ops"]["old-userspace-reset"] == VIOLATED
    assert guards["gd_or_ops"]["maps-survive-reset"] == VIOLATED  # .reset clears d->iotlb when d->force


def _per_asid(asid0: tuple[str, ...], asid1: tuple[str, ...]) -> OpEffects:
    return OpEffects(True, "clear" in asid0 + asid1, False, True, (asid0, asid1))


def test_replays_are_per_asid_and_ordered() -> None:
    """Each op is an ordered transition per address space (its instantiated summary)."""
    ops = frozenset({"reset", "set_map", "reset_map"})
    only_asid1 = _per_asid((), ("clear",))
    [maps, *_] = replay(DriverEffects(API_67, ops, only_asid1, ABSENT, ABSENT))
    assert (maps.status, maps.first_divergence) == (VIOLATED, 3)
    assert maps.steps[2].driver_state is not None
    assert maps.steps[2].driver_state.iotlb == ("userspace maps", "empty")  # ASID 0 kept, ASID 1 lost
    # restore then clear is not clear then restore
    right = _per_asid(("clear", "restore"), ())
    backwards = _per_asid(("restore", "clear"), ())
    good = replay(
        DriverEffects(API_67, ops, KEEPS, ABSENT, right, (right, _per_asid((), ("clear", "restore"))))
    )
    bad = replay(
        DriverEffects(API_67, ops, KEEPS, ABSENT, backwards, (backwards, _per_asid((), ("restore", "clear"))))
    )
    status = lambda r, k: next(o.status for o in r if o.key == k)  # noqa: E731
    assert status(good, "release-then-reuse") == MET and status(good, "release-one-asid") == MET
    assert status(bad, "release-then-reuse") == VIOLATED and status(bad, "release-one-asid") == VIOLATED


def test_release_of_one_asid_must_not_touch_the_other() -> None:
    ops = frozenset({"reset", "set_map", "reset_map"})
    every = _per_asid(("clear", "restore"), ("clear", "restore"))  # a loop over every ASID
    [one] = [
        o
        for o in replay(DriverEffects(API_67, ops, KEEPS, ABSENT, every, (every, every)))
        if o.key == "release-one-asid"
    ]
    assert (one.status, one.first_divergence) == (VIOLATED, 3)
    assert "ASID 0 is initial 1:1 passthrough" in one.observed
