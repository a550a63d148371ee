"""What the semantic core shows users: explain, unfollowed calls, verdicts, one API per tree."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, check_json, run_cli
from kernel_corpus import kernel_tree, line_of

UNKNOWNS = FIXTURES / "unknowns"
UNK = UNKNOWNS / "drivers" / "vdpa" / "unk" / "unk.c"


def test_unfollowed_calls_are_listed_per_table_and_make_it_undecided() -> None:
    data = check_json(UNKNOWNS)
    tables = {d["ops_table"]: d for d in data["drivers"]}
    sync = tables["un_sync_ops"]
    line = line_of(UNK, "un_mr_sync(d->iotlb);")
    assert sync["unfollowed"] == [
        {
            "op": "reset",
            "path": "drivers/vdpa/unk/unk.c",
            "line": line,
            "callee": "un_mr_sync",
            "why": "un_mr_sync() has no body in the scanned tree and is passed the device",
        }
    ]
    assert sync["verdict"] == "undecided"  # an unknown on the .reset path: never "compliant"
    notes = [f for f in data["findings"] if f["rule_id"] == "VDPA000" and f["line"] == line]
    assert [(f["severity"], f["ops_table"]["name"]) for f in notes] == [("note", "un_sync_ops")]
    # an unrelated bodiless call (a log of the device's name) is not an unknown
    benign = tables["un_benign_ops"]
    assert benign["unfollowed"] == []
    status = {o["key"]: o["status"] for o in benign["obligations"]}
    assert status["maps-survive-reset"] == "met"
    assert status["release-then-reuse"] == "unknown"  # its .reset_map has no body in the tree


def test_a_table_with_errors_is_never_shown_compliant() -> None:
    data = check_json(FIXTURES / "kernel-idioms")
    for d in data["drivers"]:  # the pre-6.7 API: no model obligation is violated, VDPA001 is
        errors = [f for f in data["findings"] if f["ops_table"]["name"] == d["ops_table"]]
        assert errors and d["verdict"] == "violating", d["ops_table"]


def test_explain_prints_the_summary_behind_a_verdict() -> None:
    proc = run_cli("explain", "gd_early_ops.compat_reset", str(FIXTURES / "reset-guards"))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("gd_early_ops (drivers/vdpa/guards/guards.c:")
    assert ".compat_reset(flags = 0) = gd_early_compat" in out
    assert ".compat_reset(flags = 1) = gd_early_compat" in out
    flags0 = out.split(".compat_reset(flags = 0)")[1].split(".compat_reset(flags = 1)")[0]
    flags1 = out.split(".compat_reset(flags = 1)")[1]
    assert "=> clears the upper layer's maps at 0 site(s)" in flags0  # the early return makes it dead
    assert "delete vdev->iotlb [0, ULLONG_MAX]" in flags1
    assert "=> clears the upper layer's maps at 1 site(s)" in flags1


def test_explain_names_a_configuration_and_what_makes_it() -> None:
    source = (FIXTURES / "ops-tables/drivers/vdpa/tables/replaced.c").read_text().splitlines()
    at = 1 + next(n for n, line in enumerate(source) if "m->ops.reset = rp_legacy_reset; /* expect" in line)
    proc = run_cli("explain", "rp_live_ops[reset=rp_legacy_reset].reset", str(FIXTURES / "ops-tables"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"rp_live_ops[reset=rp_legacy_reset] (drivers/vdpa/tables/replaced.c:{at})")
    assert lines[1] == (
        "  a configuration of rp_live_ops: .reset set to rp_legacy_reset at run time in rp_probe() "
        f"at drivers/vdpa/tables/replaced.c:{at}, when m->legacy"
    )
    assert "=> clears the upper layer's maps at 1 site(s):" in proc.stdout
    assert "via:  rp_legacy_reset() writes vdev->group2asid[0]" in proc.stdout  # a write, not a call
    assert "via:  rp_legacy_reset -> vhost_iotlb_reset()" in proc.stdout
    # A later set of the same member keeps its own conditions.
    later = run_cli("explain", "rp_live_ops[reset=rp_quirk_reset]", str(FIXTURES / "ops-tables"))
    assert later.stdout.splitlines()[1].endswith(
        f"at run time in rp_probe() at drivers/vdpa/tables/replaced.c:{at + 2}, when m->quirk"
    )


def test_each_configuration_is_a_table_of_the_report_and_says_only_what_its_table_does_not() -> None:
    data = check_json(FIXTURES / "ops-tables")
    verdicts = {d["ops_table"]: d["verdict"] for d in data["drivers"]}
    # .set_map has no body here: a table that clears nothing is "undecided", one that clears "violating".
    assert verdicts["rp_live_ops"] == verdicts["rp_live_ops[reset=rp_quirk_reset]"] == "undecided"
    assert verdicts["rp_live_ops[set_group_asid=rp_other_set_group_asid]"] == "undecided"
    assert verdicts["rp_live_ops[reset=rp_legacy_reset]"] == verdicts["rp_built_ops[reset=rp_legacy_reset]"]
    assert verdicts["rp_built_ops[reset=rp_legacy_reset]"] == "violating"
    assert verdicts["rp_built_quiet_ops[reset=rp_quirk_reset]"] == "undecided"
    # rp_unpaired_ops's findings hold in its configuration too (its verdict says so) but are said once.
    assert verdicts["rp_unpaired_ops[reset=rp_quirk_reset]"] == "violating"
    said = sorted(
        (f["rule_id"], f["ops_table"]["name"])
        for f in data["findings"]
        if "rp_unpaired" in f["ops_table"]["name"]
    )
    assert said == [
        ("VDPA005", "rp_unpaired_built_ops"),
        ("VDPA005", "rp_unpaired_ops"),
        ("VDPA006", "rp_unpaired_built_ops"),  # on the `?:` entry: the configuration's own line
        ("VDPA006", "rp_unpaired_ops"),
    ]
    assert "rp_unpaired_built_ops[dma_map=rp_dma_map2]" in verdicts
    # One configuration for a change made in two places; none for a function held in a variable.
    names = [d["ops_table"] for d in data["drivers"]]
    assert names.count("rp_live_ops[reset=rp_legacy_reset]") == 1
    assert not [
        n for n in names if n.startswith(("rp_live_ops[reset=board_reset]", "rp_live_ops[reset=chosen]"))
    ]


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [("nosuch_ops", "no ops table 'nosuch_ops'"), ("gd_early_ops.frobnicate", "explain knows the ops")],
)
def test_explain_refuses_what_it_cannot_explain(spec: str, fragment: str) -> None:
    proc = run_cli("explain", spec, str(FIXTURES / "reset-guards"))
    assert proc.returncode == 2 and fragment in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_two_trees_are_judged_each_with_its_own_api(tmp_path: Path) -> None:
    """A tree whose vdpa.h predates .compat_reset gets VDPA001 without VDPA002, beside a 6.7 tree."""
    for name, api in (("old", "linux-6.1"), ("new", "linux-6.7")):
        root = tmp_path / name
        shutil.copytree(FIXTURES / "demo-kernel" / "drivers", root / "drivers")
        (root / "include" / "linux").mkdir(parents=True)
        shutil.copy(FIXTURES / "api" / api / "include" / "linux" / "vdpa.h", root / "include/linux/vdpa.h")
    data = check_json(tmp_path / "old" / "drivers" / "vdpa", tmp_path / "new" / "drivers" / "vdpa")
    got = sorted(
        (f["rule_id"], f["path"].split("/")[0]) for f in data["findings"] if f["severity"] == "error"
    )
    assert got == [("VDPA001", "new"), ("VDPA001", "old"), ("VDPA002", "new")]
    assert [a["header"] for a in data["apis"]] == ["old/include/linux/vdpa.h", "new/include/linux/vdpa.h"]


@pytest.mark.kernel
def test_debian_61_and_612_together() -> None:
    old, new = kernel_tree("6.1"), kernel_tree("6.12")
    data = check_json(old / "drivers" / "vdpa", new / "drivers" / "vdpa")
    assert not [f for f in data["findings"] if f["rule_id"] == "VDPA002"]  # 6.1 lacks .compat_reset
    errors = sorted(
        (f["ops_table"]["name"], f["path"].split("/")[0])
        for f in data["findings"]
        if f["severity"] == "error"
    )
    assert errors == [
        ("mlx5_vdpa_ops", old.name),
        ("vdpasim_batch_config_ops", old.name),
        ("vdpasim_config_ops", old.name),
    ]
