"""gate as maintainers feed it: relative paths, cover letters and lore threads, standard input,
a patch that does not apply, head-state annotations, and text that says what the user gave."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from conftest import FIXTURES, run_cli, run_process
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
)

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())


def _gate_json(*args: str, stdin: bytes = b"", cwd: Path | None = None) -> tuple[int, dict, str]:
    proc = run_cli("gate", "--format", "json", *args, stdin=stdin, cwd=cwd)
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def _two_patch_series(tmp_path: Path, cover: bool = False) -> tuple[Path, list[Path]]:
    """A pristine demo tree, and a series of two patches against it (the second fails)."""
    repo = repo_from(FIXTURES / "demo-kernel", tmp_path / "repo")
    base = git(repo, "rev-parse", "HEAD").strip()
    commit(repo, "good_vdpa: document reset", {GOOD: COMMENT})
    commit(repo, "good_vdpa: restore passthrough on every reset", {GOOD: UNGUARD})
    out = tmp_path / "series"
    out.mkdir()
    names = git(repo, "format-patch", *(["--cover-letter"] if cover else []), "-o", str(out), f"{base}..HEAD")
    return repo_from(FIXTURES / "demo-kernel", tmp_path / "tree"), [Path(n) for n in names.split()]


def test_relative_patch_paths_are_the_users(tmp_path: Path) -> None:
    _, patches = _two_patch_series(tmp_path)
    relative = [str(p.relative_to(tmp_path)) for p in patches]
    assert relative[0].startswith("series/")
    code, data, err = _gate_json("--tree", "tree", *relative, cwd=tmp_path)
    assert code == 1, err
    assert [(p["index"], p["verdict"]) for p in data["patches"]] == [(1, "success"), (2, "fail")]
    assert data["patches"][0]["source"] == relative[0]


def test_cover_letter_is_skipped_and_said_so(tmp_path: Path) -> None:
    tree, patches = _two_patch_series(tmp_path, cover=True)
    assert patches[0].name == "0000-cover-letter.patch"
    code, data, err = _gate_json("--tree", str(tree), *map(str, patches))
    assert code == 1, err
    assert data["skipped"] == [
        {
            "number": 0,
            "total": 2,
            "subject": "*** SUBJECT HERE ***",
            "source": str(patches[0]),
            "why": "cover letter, no diff",
        }
    ]
    assert [(p["index"], p["total"], p["subject"]) for p in data["patches"]] == [
        (1, 2, "good_vdpa: document reset"),
        (2, 2, "good_vdpa: restore passthrough on every reset"),
    ]
    text = run_cli("gate", "--tree", str(tree), *map(str, patches)).stdout.splitlines()
    judged = [line for line in text if line.startswith("[")]
    assert judged[:2] == [
        "[0/2] *** SUBJECT HERE ***: skipped (cover letter, no diff)",
        "[1/2] good_vdpa: document reset: SUCCESS — no new findings",
    ]


def _lore_thread(patches: list[Path]) -> bytes:
    """An mbox as lore serves a thread (mboxrd): the cover letter, a reply quoting patch 1, and
    the patches out of order."""
    cover, one, two = (p.read_text() for p in patches)
    reply = (
        "From: Reviewer <r@example.org>\nSubject: Re: [PATCH 1/2] good_vdpa: document reset\n"
        "Message-Id: <reply@example.org>\n\nLooks fine.\n\n> diff --git a/x b/x\n> --- a/x\n> +++ b/x\n"
    )
    mails = [cover, two, reply, one]
    return "".join(
        "From mboxrd@z Thu Jan  1 00:00:00 1970\n" + m.split("\n", 1)[1] + "\n" for m in mails
    ).encode()


def test_lore_thread_mbox_follows_the_series_numbers(tmp_path: Path) -> None:
    tree, patches = _two_patch_series(tmp_path, cover=True)
    mbox = tmp_path / "thread.mbox"
    mbox.write_bytes(_lore_thread(patches))
    code, data, err = _gate_json("--tree", str(tree), str(mbox))
    assert code == 1, err
    assert [(s["number"], s["why"]) for s in data["skipped"]] == [
        (0, "cover letter, no diff"),
        (1, "a reply, not a patch"),
    ]
    assert [(p["index"], p["subject"], p["verdict"]) for p in data["patches"]] == [
        (1, "good_vdpa: document reset", "success"),
        (2, "good_vdpa: restore passthrough on every reset", "fail"),
    ]
    assert data["patches"][0]["source"] == f"{mbox}, message 4"


def test_series_on_standard_input(tmp_path: Path) -> None:
    tree, patches = _two_patch_series(tmp_path, cover=True)
    concatenated = b"".join(p.read_bytes() for p in patches)  # `cat *.patch | vdpa-lint gate ... -`
    code, data, err = _gate_json("--tree", str(tree), "-", stdin=concatenated)
    assert code == 1, err
    assert [p["verdict"] for p in data["patches"]] == ["success", "fail"]
    assert data["patches"][1]["source"] == "standard input, message 3"
    proc = run_process(
        "gate", "--format", "json", "--tree", str(tree), "/dev/stdin", stdin=_lore_thread(patches)
    )
    assert proc.returncode == 1, proc.stderr
    assert [p["verdict"] for p in json.loads(proc.stdout)["patches"]] == ["success", "fail"]


def test_b4_cover_commit_in_a_range_is_skipped(tmp_path: Path) -> None:
    repo = repo_from(FIXTURES / "demo-kernel", tmp_path / "repo")
    git(repo, "commit", "-q", "--allow-empty", "-m", "good_vdpa: the series\n\n--- b4-submit-tracking ---")
    commit(repo, "good_vdpa: document reset", {GOOD: COMMENT})
    code, data, err = _gate_json("--repo", str(repo), "--base", "HEAD~2")
    assert code == 0, err
    assert [(s["subject"], s["why"]) for s in data["skipped"]] == [
        ("good_vdpa: the series", "empty commit, no diff")
    ]
    assert [(p["index"], p["total"]) for p in data["patches"]] == [(1, 1)]


# -- a patch that does not apply -----------------------------------------------------------


@pytest.fixture
def breaks_at_2(tmp_path: Path) -> tuple[Path, list[Path], int]:
    """Three patches; the second's second hunk meets a file the tree has changed."""
    repo = repo_from(FIXTURES / "demo-kernel", tmp_path / "repo")
    base = git(repo, "rev-parse", "HEAD").strip()
    commit(repo, "good_vdpa: restore passthrough on every reset", {GOOD: UNGUARD})
    text = (repo / LEGACY_MR).read_text()
    edited = text.replace("/* vdpa-lint fixture", "/* changed", 1).replace(
        "return;", "return; /* early */", 1
    )
    commit(repo, "legacy: two comments", {LEGACY_MR: edited})
    commit(repo, "good_vdpa: document reset", {GOOD: COMMENT})
    patches = format_patches(repo, base, tmp_path / "series")
    tree = repo_from(FIXTURES / "demo-kernel", tmp_path / "tree")
    (tree / LEGACY_MR).write_text(text.replace("\tif (!ld->mr_ready)", "\tif (!ld || !ld->mr_ready)"))
    second_hunk = [int(n) for n in re.findall(r"^@@ -(\d+)", patches[1].read_text(), re.M)][1]
    return tree, patches, second_hunk


def test_verdicts_before_a_patch_that_does_not_apply_are_kept(breaks_at_2) -> None:
    tree, patches, line = breaks_at_2
    where = f"{LEGACY_MR}:{line}: hunk #2 does not apply"
    args = ("gate", "--tree", str(tree), *map(str, patches))
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert proc.stderr == f"vdpa-lint: error: patch 2/3 ({patches[1]}) does not apply: {where}\n"
    out = [line for line in proc.stdout.splitlines() if not line.startswith("  ")]
    assert out[1:] == [
        "[1/3] good_vdpa: restore passthrough on every reset: FAIL — introduces 2 findings (VDPA001, VDPA003)",
        f"[2/3] legacy: two comments: DOES NOT APPLY — {where}",
        "series: FAIL (first at patch 1/3; patch 2/3 does not apply)",
    ]
    data = json.loads(run_cli(*args, "--format", "json").stdout)
    assert [(p["index"], p["verdict"]) for p in data["patches"]] == [(1, "fail")]
    assert data["not_applied"] == {
        "number": 2,
        "total": 3,
        "subject": "legacy: two comments",
        "source": str(patches[1]),
        "path": LEGACY_MR,
        "line": line,
        "hunk": 2,
        "message": where,
        "message_id": "",  # format-patch without --thread writes none
    }
    records = [json.loads(r) for r in run_cli(*args, "--format", "patchwork").stdout.splitlines()]
    assert [(r["patch"], r["state"]) for r in records] == [(1, "fail"), (2, "fail")]
    assert records[1]["description"].endswith(f"does not apply: {where}")
    gh = run_cli(*args, "--format", "github").stdout.splitlines()
    assert [g.split(" ", 1)[0] for g in gh] == ["::error", "::error", "::error", "::notice"]
    assert gh[2] == (
        f"::error file={LEGACY_MR},line={line},title=patch 2/3 does not apply::legacy: two comments: {where}"
    )
    sarif = json.loads(run_cli(*args, "--format", "sarif").stdout)
    jsonschema.Draft4Validator(SCHEMA).validate(sarif)
    [invocation] = sarif["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][-1]["message"]["text"].endswith(where)
    assert sorted(r["ruleId"] for r in sarif["runs"][0]["results"]) == ["VDPA001", "VDPA003"]


# -- annotations on the head state -----------------------------------------------------------


def test_annotations_are_for_the_head_state(tmp_path: Path) -> None:
    repo = repo_from(FIXTURES / "demo-kernel", tmp_path / "repo")
    commit(repo, "new_vdpa: add a parent", {NEW: NEW_DRIVER})
    commit(repo, "new_vdpa: drop maps on reset", {NEW: CLEAR})
    commit(repo, "legacy_vdpa: drop maps quietly", {LEGACY_MR: ("/* expect: VDPA001 */", "")})
    commit(repo, "new_vdpa: keep maps again", {NEW: (CLEAR[1], CLEAR[0])})
    commit(repo, "good_vdpa: drop maps", {GOOD: UNGUARD})
    commit(repo, "good_vdpa: a header comment", {GOOD: ("// SPDX", "/*\n * good\n */\n// SPDX")})
    args = ("gate", "--repo", str(repo), "--base", "HEAD~6")
    data = json.loads(run_cli(*args, "--format", "json").stdout)
    assert [p["verdict"] for p in data["patches"]] == [
        "success",
        "fail",
        "success",
        "success",
        "fail",
        "success",
    ]
    head_line = 22 + 3  # good_main.c's clearing call, below the three lines patch 6 adds
    sarif = json.loads(run_cli(*args, "--format", "sarif").stdout)
    jsonschema.Draft4Validator(SCHEMA).validate(sarif)
    results = sarif["runs"][0]["results"]
    # new_vdpa's VDPA001/VDPA002 were fixed by patch 4: no annotation for them
    assert sorted(
        (
            r["ruleId"],
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
            r["properties"]["introducedBy"]["patch"],
        )
        for r in results
    ) == [("VDPA001", GOOD, head_line, 5), ("VDPA003", GOOD, head_line, 5)]
    assert results[0]["message"]["text"].endswith("(introduced by patch 5/6: good_vdpa: drop maps)")
    assert sarif["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] == repo.as_uri() + "/"
    gh = run_cli(*args, "--format", "github").stdout.splitlines()
    assert gh[0].startswith(
        f"::error file={GOOD},line={head_line},col=2,title=VDPA001 reset-clears-map (patch 5/6)::"
    )
    assert gh[0].endswith("(introduced by patch 5/6: good_vdpa: drop maps)")
    assert len(gh) == 3 and gh[-1] == "::notice title=vdpa-lint gate::series fail"
    assert [(f["rule_id"], f["line"], f["introduced_by"]) for f in data["at_head"]] == [
        ("VDPA001", head_line, 5),
        ("VDPA003", head_line, 5),
    ]


# -- what the text says ----------------------------------------------------------------------


def test_text_says_what_the_user_gave(tmp_path: Path) -> None:
    repo = repo_from(FIXTURES / "demo-kernel", tmp_path / "range")
    commit(repo, "good_vdpa: document reset", {GOOD: COMMENT})
    sha = git(repo, "rev-parse", "--short=12", "HEAD~1").strip()
    proc = run_cli("gate", "--repo", str(repo), "--base", "HEAD~1")
    assert proc.stdout.startswith(f"vdpa-lint gate: base HEAD~1 ({sha}): 3 findings already present")
    assert proc.stdout.endswith("\nseries: SUCCESS\n") and proc.stderr == ""
    verbose = run_cli("gate", "-v", "--no-cache", "--repo", str(repo), "--base", "HEAD~1")
    assert verbose.stdout == proc.stdout
    assert verbose.stderr == "vdpa-lint: 3 table analyses, 1 reused\n"
    tree, patches = _two_patch_series(tmp_path)
    proc = run_cli("gate", "--tree", "tree", *map(str, patches), cwd=tmp_path)
    assert proc.stdout.startswith("vdpa-lint gate: base tree: 3 findings already present")
    proc = run_cli("gate", "--tree", str(tree), "--path", "drivers/nope", *map(str, patches))
    assert proc.stderr == "vdpa-lint: error: --path drivers/nope: no such path in the tree\n"
    for fmt in ("text", "json", "sarif", "github", "patchwork"):
        out = run_cli("gate", "--format", fmt, "--tree", str(tree), *map(str, patches)).stdout
        assert "vdpa-lint-gate-" not in out, fmt


def test_a_series_without_patches_is_refused(tmp_path: Path) -> None:
    tree, patches = _two_patch_series(tmp_path, cover=True)
    proc = run_cli("gate", "--tree", str(tree), "-", stdin=b"")
    assert proc.returncode == 2
    assert (
        proc.stderr == "vdpa-lint: error: standard input: no patch with a diff in it (1 message(s) skipped)\n"
    )
    proc = run_cli("gate", "--tree", str(tree), str(patches[0]))
    assert proc.returncode == 2 and "no patch with a diff in it" in proc.stderr


def test_help_says_what_exit_status_2_means_for_the_gate() -> None:
    text = " ".join(run_cli("gate", "--help").stdout.split())
    assert "2 the run could not be done: bad arguments, or a patch that does not apply" in text
