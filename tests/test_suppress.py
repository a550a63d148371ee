"""Baselines and inline suppressions: accepted findings leave the verdict, with a reason;
unused and malformed ones are reported."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import FIXTURES, run_cli
from gitseries import commit, repo_from

LEGACY_MR = "drivers/vdpa/legacy_vdpa/legacy_mr.c"
LEGACY_MAIN = "drivers/vdpa/legacy_vdpa/legacy_main.c"
CLEAR_LINE = "\tvhost_iotlb_del_range(ld->iotlb, 0, ULLONG_MAX); /* expect: VDPA001 */"


def _tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(FIXTURES / "demo-kernel", tree, symlinks=False)
    return tree


def _check(*args: str) -> tuple[int, dict]:
    proc = run_cli("check", "--format", "json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_baseline_round_trip(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    base = tmp_path / "baseline.json"
    proc = run_cli(
        "check", "--write-baseline", str(base), "--reason", "legacy driver, fix tracked upstream", str(tree)
    )
    assert proc.returncode == 0
    entries = json.loads(base.read_text())["entries"]
    assert sorted(e["rule_id"] for e in entries) == ["VDPA001", "VDPA002", "VDPA005"]
    assert {e["reason"] for e in entries} == {"legacy driver, fix tracked upstream"}
    code, data = _check("--baseline", str(base), str(tree))
    assert code == 0 and data["findings"] == []
    assert sorted(f["rule_id"] for f in data["suppressed"]) == ["VDPA001", "VDPA002", "VDPA005"]
    assert data["suppressed"][0]["accepted_by"] == "baseline: legacy driver, fix tracked upstream"
    # fix the driver: its baseline entries are now unused, and said so
    mr = tree / LEGACY_MR
    mr.write_text(mr.read_text().replace(CLEAR_LINE + "\n", ""))
    code, data = _check("--baseline", str(base), str(tree))
    assert code == 0
    notes = [n["message"] for n in data["suppression_notes"]]
    assert sum(m.startswith("unused baseline entry: VDPA001 legacy_ops") for m in notes) == 1
    assert len(notes) == 2  # VDPA005 still applies: its entry is used


def test_write_baseline_needs_a_reason(tmp_path: Path) -> None:
    proc = run_cli("check", "--write-baseline", str(tmp_path / "b.json"), str(FIXTURES / "demo-kernel"))
    assert proc.returncode == 2 and "needs --reason" in proc.stderr
    assert not (tmp_path / "b.json").exists()


def test_malformed_baseline_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "b.json"
    bad.write_text('{"entries": [{"fingerprint": "x"}]}')
    proc = run_cli("check", "--baseline", str(bad), str(FIXTURES / "demo-kernel"))
    assert (
        proc.returncode == 2
        and len(proc.stderr.splitlines()) == 1
        and "not a vdpa-lint baseline" in proc.stderr
    )


def test_inline_suppression(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    mr = tree / LEGACY_MR
    mr.write_text(
        mr.read_text().replace(
            CLEAR_LINE,
            "\t/* vdpa-lint: ignore VDPA001 -- device firmware needs it, see erratum 12 */\n" + CLEAR_LINE,
        )
    )
    main = tree / LEGACY_MAIN
    main.write_text(
        main.read_text()
        .replace(
            "static int legacy_reset(", "/* vdpa-lint: ignore VDPA003 -- stale */\nstatic int legacy_reset("
        )
        .replace(
            "static int legacy_set_map(", "// vdpa-lint: ignore -- forgot the id\nstatic int legacy_set_map("
        )
    )
    code, data = _check(str(tree))
    assert code == 1  # VDPA002 still fails
    assert sorted(f["rule_id"] for f in data["findings"]) == ["VDPA002", "VDPA005"]
    [(sup)] = data["suppressed"]
    assert sup["rule_id"] == "VDPA001"
    assert sup["accepted_by"] == f"inline at {LEGACY_MR}:7: device firmware needs it, see erratum 12"
    assert [(n["path"], n["line"], n["message"]) for n in data["suppression_notes"]] == [
        (LEGACY_MAIN, 14, "unused suppression of VDPA003"),
        (LEGACY_MAIN, 25, "suppression names no rule id (write: vdpa-lint: ignore VDPA001 -- reason)"),
    ]
    text = run_cli("check", str(tree)).stdout
    assert f"{LEGACY_MAIN}:14: note: unused suppression of VDPA003" in text
    assert "note: 1 finding accepted (baseline or inline)" in text


def test_gate_does_not_count_accepted_findings_as_new(tmp_path: Path) -> None:
    repo = repo_from(FIXTURES / "demo-kernel", tmp_path / "repo")
    good = "drivers/vdpa/good_vdpa/good_main.c"
    commit(
        repo,
        "good_vdpa: restore passthrough on every reset (accepted)",
        {good: ("\tif (flags & VDPA_RESET_F_CLEAN_MAP) {", "\t{")},
    )
    proc = run_cli("gate", "--format", "json", "--repo", str(repo), "--base", "HEAD~1")
    assert proc.returncode == 1
    # accept the two new findings inline, at the clearing call
    commit(
        repo,
        "good_vdpa: accept",
        {
            good: (
                "\tvhost_iotlb_reset(&g->iotlb[asid]);",
                "\t/* vdpa-lint: ignore VDPA001 VDPA003 -- lab device, maps are rebuilt by firmware */\n"
                "\tvhost_iotlb_reset(&g->iotlb[asid]);",
            )
        },
    )
    proc = run_cli("gate", "--format", "json", "--repo", str(repo), "--base", "HEAD~2", "--head-only")
    assert proc.returncode == 0, proc.stdout
