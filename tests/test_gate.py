"""vdpa-lint gate on real git repositories built from fixture trees."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from conftest import FIXTURES, run_cli
from gitseries import (
    CLEAR,
    COMMENT,
    GOOD,
    LEGACY_MR,
    NEW,
    NEW_DRIVER,
    UNGUARD,
    commit,
    format_patches,
    git,
    repo_from,
    tree_digest,
)

LEGACY_MAIN = "drivers/vdpa/legacy_vdpa/legacy_main.c"


def _gate(*args: str) -> tuple[int, dict, str]:
    proc = run_cli("gate", "--format", "json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def _introduced(patch: dict) -> list[tuple[str, str, int]]:
    return [(f["rule_id"], f["path"], f["line"]) for f in patch["introduced"]]


@pytest.fixture
def demo_repo(tmp_path: Path) -> Path:
    return repo_from(FIXTURES / "demo-kernel", tmp_path / "repo")


def test_clean_series_succeeds(demo_repo: Path) -> None:
    commit(demo_repo, "good_vdpa: document reset", {GOOD: COMMENT})
    commit(
        demo_repo, "legacy_vdpa: comment", {LEGACY_MR: ("/* vdpa-lint fixture", "/* vdpa-lint test fixture")}
    )
    code, data, _ = _gate("--repo", str(demo_repo), "--base", "HEAD~2")
    assert code == 0 and data["verdict"] == "success"
    assert [(p["index"], p["total"], p["subject"], p["verdict"]) for p in data["patches"]] == [
        (1, 2, "good_vdpa: document reset", "success"),
        (2, 2, "legacy_vdpa: comment", "success"),
    ]
    assert {f["rule_id"] for f in data["base"]["findings"]} == {"VDPA001", "VDPA002", "VDPA005"}


def test_violation_blamed_on_the_patch_that_introduced_it(tmp_path: Path) -> None:
    repo = repo_from(FIXTURES / "demo-kernel", tmp_path / "repo")
    commit(repo, "new_vdpa: add a parent", {NEW: NEW_DRIVER})
    commit(repo, "new_vdpa: drop maps on reset", {NEW: CLEAR})
    commit(repo, "new_vdpa: keep maps again", {NEW: (CLEAR[1], CLEAR[0])})
    code, data, _ = _gate("--repo", str(repo), "--base", "HEAD~3")
    assert code == 1 and data["verdict"] == "fail"
    p1, p2, p3 = data["patches"]
    assert p1["verdict"] == "success" and p1["introduced"] == []
    assert p2["verdict"] == "fail"
    assert sorted(_introduced(p2)) == [("VDPA001", NEW, 11), ("VDPA002", NEW, 20)]
    assert p3["verdict"] == "success"
    assert sorted(_introduced({"introduced": p3["fixed"]})) == [("VDPA001", NEW, 11), ("VDPA002", NEW, 20)]
    # bisectability: the series fails although its head is clean again; --head-only judges the end
    code, data, _ = _gate("--repo", str(repo), "--base", "HEAD~3", "--head-only")
    assert code == 0 and [p["verdict"] for p in data["patches"]] == ["success"]


def test_dropping_compat_reset_from_a_compliant_reset_is_vdpa009(demo_repo: Path) -> None:
    commit(
        demo_repo,
        "good_vdpa: drop compat_reset",
        {GOOD: ("\t.compat_reset = good_compat_reset, /* ok: VDPA004 */\n", "")},
    )
    code, data, _ = _gate("--repo", str(demo_repo), "--base", "HEAD~1")
    assert code == 1
    [p] = data["patches"]
    assert _introduced(p) == [("VDPA009", GOOD, 71)]  # the .reset entry old userspace now gets
    assert "no longer does" in p["introduced"][0]["message"]


@pytest.mark.parametrize("lean_first", [True, False])
def test_a_build_choice_that_drops_compat_reset_is_vdpa009_whichever_branch_it_is(
    tmp_path: Path, lean_first: bool
) -> None:
    repo = repo_from(FIXTURES / "demo-kernel", tmp_path / "repo")
    lean = "static int good_lean_compat_reset(struct vdpa_device *vdev, u32 flags)\n{\n\treturn good_reset(vdev);\n}\n\n"
    branches = ("good_lean_compat_reset", "good_compat_reset")[:: 1 if lean_first else -1]
    text = (repo / GOOD).read_text()
    text = text.replace("static int good_reset_map(", lean + "static int good_reset_map(", 1)
    text = text.replace(
        "\t.compat_reset = good_compat_reset, /* ok: VDPA004 */\n",
        f"\t.compat_reset = IS_ENABLED(CONFIG_GOOD_LEAN) ? {branches[0]} : {branches[1]},\n",
    )
    commit(repo, "good_vdpa: a lean compat_reset when built so", {GOOD: text})
    code, data, _ = _gate("--repo", str(repo), "--base", "HEAD~1")
    assert code == 1
    [p] = data["patches"]
    dropped = [f["ops_table"]["name"] for f in p["introduced"] if f["rule_id"] == "VDPA009"]
    # The build that takes the lean branch drops old userspace's maps-cleared reset: the table
    # itself when it is the first branch, its configuration when it is the other.
    assert dropped == (["good_ops"] if lean_first else ["good_ops[compat_reset=good_lean_compat_reset]"])


def test_code_that_moves_is_not_new(demo_repo: Path) -> None:
    text = (demo_repo / LEGACY_MR).read_text()
    prune = text[text.index("static void legacy_prune") : text.index("void legacy_teardown_mr")]
    moved = text.replace(prune, "")
    moved = moved.replace(
        "void legacy_teardown_mr", "/* helpers come first */\n\n" + prune + "void legacy_teardown_mr"
    )
    commit(demo_repo, "legacy_vdpa: reorder helpers", {LEGACY_MR: "\n\n\n" + moved})
    code, data, _ = _gate("--repo", str(demo_repo), "--base", "HEAD~1")
    assert code == 0
    [p] = data["patches"]
    assert p["introduced"] == [] and p["fixed"] == []


def test_empty_range(demo_repo: Path) -> None:
    proc = run_cli("gate", "--repo", str(demo_repo), "--base", "HEAD")
    assert proc.returncode == 0
    assert "nothing to judge: the range has no commits" in proc.stdout


def test_tree_series_applied_on_a_copy(tmp_path: Path) -> None:
    repo = repo_from(FIXTURES / "demo-kernel", tmp_path / "repo")
    base = git(repo, "rev-parse", "HEAD").strip()
    commit(repo, "good_vdpa: document reset", {GOOD: COMMENT})
    commit(repo, "good_vdpa: restore passthrough on every reset", {GOOD: UNGUARD})
    patches = format_patches(repo, base, tmp_path / "series")
    pristine = repo_from(FIXTURES / "demo-kernel", tmp_path / "pristine")
    before = tree_digest(pristine)
    code, data, _ = _gate("--tree", str(pristine), *map(str, patches))
    assert tree_digest(pristine) == before  # never touches DIR
    assert code == 1
    assert [(p["subject"], p["verdict"]) for p in data["patches"]] == [
        ("good_vdpa: document reset", "success"),
        ("good_vdpa: restore passthrough on every reset", "fail"),
    ]
    # the same series as one mbox
    mbox = tmp_path / "series.mbox"
    mbox.write_text("".join(p.read_text() for p in patches))
    code, again, _ = _gate("--tree", str(pristine), str(mbox))
    assert [p["verdict"] for p in again["patches"]] == ["success", "fail"]
    assert _introduced(again["patches"][1]) == _introduced(data["patches"][1])


def test_patch_that_does_not_apply(tmp_path: Path) -> None:
    repo = repo_from(FIXTURES / "demo-kernel", tmp_path / "repo")
    base = git(repo, "rev-parse", "HEAD").strip()
    commit(repo, "good_vdpa: document reset", {GOOD: COMMENT})
    commit(repo, "legacy: comment", {LEGACY_MR: ("/* vdpa-lint fixture", "/* changed")})
    patches = format_patches(repo, base, tmp_path / "series")
    other = repo_from(FIXTURES / "demo-kernel", tmp_path / "other")
    (other / LEGACY_MR).write_text("/* a different file */\n")
    proc = run_cli("gate", "--tree", str(other), *map(str, patches))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert lines[0] == (
        f"vdpa-lint: error: patch 2/2 ({patches[1]}) does not apply: {LEGACY_MR}:1: hunk #1 does not apply"
    )


def test_bad_gate_arguments(demo_repo: Path, tmp_path: Path) -> None:
    for args, fragment in [
        (["--repo", str(demo_repo)], "needs --base"),
        (["--repo", str(demo_repo), "--base", "nope"], "unknown revision 'nope'"),
        (["--repo", str(tmp_path), "--base", "HEAD"], "not a git repository"),
        (["--tree", str(demo_repo)], "needs patch files"),
        (["--tree", str(demo_repo), str(tmp_path / "missing.patch")], "no such patch file"),
    ]:
        proc = run_cli("gate", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and fragment in proc.stderr, proc.stderr


def test_gate_output_formats(demo_repo: Path) -> None:
    commit(demo_repo, "good_vdpa: restore passthrough on every reset", {GOOD: UNGUARD})
    gh = run_cli(
        "gate", "--repo", str(demo_repo), "--base", "HEAD~1", "--format", "github"
    ).stdout.splitlines()
    assert gh[0] == (
        f"::error file={GOOD},line=22,col=2,title=VDPA001 reset-clears-map (patch 1/1)::"
        "good_ops: .reset (good_reset) clears upper-layer IOTLB mappings: good_reset -> good_compat_reset "
        "-> good_do_reset -> good_restore_passthrough -> vhost_iotlb_reset() "
        "(introduced by patch 1/1: good_vdpa: restore passthrough on every reset)"
    )
    assert gh[-1] == "::notice title=vdpa-lint gate::series fail"
    pw = run_cli("gate", "--repo", str(demo_repo), "--base", "HEAD~1", "--format", "patchwork").stdout
    [record] = [json.loads(line) for line in pw.splitlines()]
    assert record["state"] == "fail" and record["context"] == "vdpa-lint"
    assert record["description"].endswith("introduces 2 findings (VDPA001, VDPA003)")
    sarif = json.loads(
        run_cli("gate", "--repo", str(demo_repo), "--base", "HEAD~1", "--format", "sarif").stdout
    )
    schema = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(sarif)
    assert sorted(r["ruleId"] for r in sarif["runs"][0]["results"]) == ["VDPA001", "VDPA003"]
    text = run_cli("gate", "--repo", str(demo_repo), "--base", "HEAD~1").stdout
    assert "[1/1] good_vdpa: restore passthrough on every reset: FAIL" in text


def test_only_affected_drivers_are_reanalysed(demo_repo: Path) -> None:
    for n in range(4):
        text = (demo_repo / LEGACY_MR).read_text()
        commit(demo_repo, f"legacy: comment {n}", {LEGACY_MR: text + f"/* comment {n} */\n"})
    _, data, _ = _gate(
        "--no-cache", "--repo", str(demo_repo), "--base", "HEAD~4"
    )  # counts analyses: no stored results
    # base: both tables; then each patch touches legacy_vdpa only
    assert data["stats"] == {"tables_analysed": 2 + 4, "tables_reused": 4}


def test_a_patch_that_deletes_a_file(demo_repo: Path) -> None:
    commit(demo_repo, "legacy_vdpa: drop the memory-region file", {LEGACY_MR: None})
    code, data, _ = _gate("--repo", str(demo_repo), "--base", "HEAD~1")
    [p] = data["patches"]
    # the clearing lived in the deleted file: its VDPA001 (and the VDPA002 it implied) are gone,
    # and .reset now calls legacy_teardown_mr() whose body is nowhere: that is an unknown
    # (VDPA000 note), not proof that old userspace lost its maps-cleared reset (no VDPA009)
    assert sorted(f["rule_id"] for f in p["fixed"]) == ["VDPA001", "VDPA002"]
    assert [(f["rule_id"], f["severity"]) for f in p["introduced"]] == [("VDPA000", "note")]
    assert code == 0
