"""The command line as CI uses it: exit statuses, formats, and bad input (one line, exit 2)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import FIXTURES, REPO, check_json, run_cli, run_process

DEMO = FIXTURES / "demo-kernel"


def _one_line_error(proc, fragment: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("vdpa-lint: error:") and fragment in lines[0], lines[0]
    assert "Traceback" not in proc.stderr


def test_findings_at_or_above_fail_on_give_exit_1() -> None:
    assert run_cli("check", str(DEMO)).returncode == 1
    assert run_cli("check", "--fail-on", "never", str(DEMO)).returncode == 0
    only_note = ("--select", "VDPA005")
    assert run_cli("check", *only_note, "--fail-on", "warning", str(DEMO)).returncode == 0
    assert run_cli("check", *only_note, "--fail-on", "note", str(DEMO)).returncode == 1


def test_compliant_driver_alone_exits_0() -> None:
    proc = run_cli("check", str(DEMO / "drivers" / "vdpa" / "good_vdpa"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith(".set_group_asid")  # the summary line names the API


def test_text_output_is_gcc_style_with_the_trace() -> None:
    out = run_cli("check", str(DEMO)).stdout.splitlines()
    head = "drivers/vdpa/legacy_vdpa/legacy_mr.c:7:2: error: legacy_ops: .reset (legacy_reset) clears upper-layer"
    i = next(n for n, line in enumerate(out) if line.startswith(head))
    assert out[i].endswith("[VDPA001 reset-clears-map]")
    # The trace starts at the table's initializer, then follows the calls.
    assert (
        out[i + 1] == "drivers/vdpa/legacy_vdpa/legacy_main.c:30:2: note: .reset = legacy_reset in legacy_ops"
    )
    assert (
        out[i + 2]
        == "drivers/vdpa/legacy_vdpa/legacy_main.c:19:2: note: legacy_reset calls legacy_teardown_mr"
    )
    assert out[i + 3] == (
        "drivers/vdpa/legacy_vdpa/legacy_mr.c:14:2: note: legacy_teardown_mr calls "
        "legacy_prune when ld->mr_ready"
    )
    assert (
        out[i + 4]
        == "drivers/vdpa/legacy_vdpa/legacy_mr.c:7:2: note: legacy_prune calls vhost_iotlb_del_range"
    )
    assert re.match(r"^\d+ errors?, \d+ warnings?, \d+ notes? in 2 drivers \(2 ops tables\)", out[-1])


def test_every_located_line_starts_with_its_path() -> None:
    """What Emacs' compilation-mode (gnu) and Vim's default errorformat parse: the file name from
    column 0, never leading blanks (they would become part of the name)."""
    located = re.compile(r"^(\S[^:]*):(\d+):(\d+): (error|warning|note): ")
    for tree in (DEMO, FIXTURES / "reset-guards", FIXTURES / "table-rules"):
        out = run_cli("check", "--fail-on", "never", str(tree)).stdout.splitlines()
        notes = [line for line in out if re.search(r":\d+:\d+: note: ", line)]
        assert notes, tree
        for line in out:
            if re.search(r":\d+:\d+: ", line):
                assert located.match(line), line


def test_json_has_the_spec_fields() -> None:
    data = check_json(DEMO)
    assert data["tool"]["name"] == "vdpa-lint" and data["tool"]["version"]
    drivers = {d["ops_table"]: d for d in data["drivers"]}
    good = drivers["good_ops"]
    assert {k: good[k] for k in ("driver", "ops_table", "path", "line", "const", "conditional_ops")} == {
        "driver": "good_vdpa",
        "ops_table": "good_ops",
        "path": "drivers/vdpa/good_vdpa/good_main.c",
        "line": 70,
        "const": True,
        "conditional_ops": {},
    }
    assert good["ops"] == {
        "compat_reset": "good_compat_reset",
        "get_vq_desc_group": "good_get_vq_desc_group",
        "reset": "good_reset",
        "reset_map": "good_reset_map",
        "set_group_asid": "good_set_group_asid",
        "set_map": "good_set_map",
    }
    assert good["op_locations"]["reset"] == {"path": "drivers/vdpa/good_vdpa/good_main.c", "line": 46}
    assert "get_vq_desc_group" not in good["op_locations"]  # declared only, in good_vdpa.h
    assert good["verdict"] == "compliant" and drivers["legacy_ops"]["verdict"] == "violating"
    f = next(f for f in data["findings"] if f["rule_id"] == "VDPA001")
    assert (f["name"], f["severity"], f["path"], f["line"], f["column"]) == (
        "reset-clears-map",
        "error",
        "drivers/vdpa/legacy_vdpa/legacy_mr.c",
        7,
        2,
    )
    assert f["ops_table"] == {
        "name": "legacy_ops",
        "path": "drivers/vdpa/legacy_vdpa/legacy_main.c",
        "line": 29,
    }
    assert [(s["function"], s["line"]) for s in f["trace"]] == [
        ("legacy_reset", 30),
        ("legacy_teardown_mr", 19),
        ("legacy_prune", 14),
        ("vhost_iotlb_del_range", 7),
    ]
    assert data["errors"] == []


def test_conditional_ops_are_reported() -> None:
    data = check_json(FIXTURES / "ops-tables")
    copied = next(d for d in data["drivers"] if d["ops_table"] == "tb_copied_ops")
    assert copied["conditional_ops"] == {
        "get_vq_desc_group": "set to NULL at run time in tb_probe() at drivers/vdpa/tables/tables.c:86",
        "reset_map": "chosen when the kernel is built: IS_ENABLED(CONFIG_TB_RESET_MAP) ? tb_reset_map : NULL",
    }
    names = sorted(d["ops_table"] for d in data["drivers"])
    assert [n for n in names if n.startswith("tb_")] == [
        "tb_copied_ops",
        "tb_shared_a_ops",
        "tb_shared_b_ops",
    ]  # the forward declaration is no table
    b = next(d for d in data["drivers"] if d["ops_table"] == "tb_shared_b_ops")
    assert "compat_reset" not in b["ops"]  # `= NULL` is absent


def test_old_api_says_which_rules_do_not_apply() -> None:
    data = check_json(FIXTURES / "kernel-idioms")
    for d in data["drivers"]:
        assert d["not_applicable"]["VDPA002"] == "include/linux/vdpa.h has no .compat_reset"
        assert d["not_applicable"]["VDPA005"] == "include/linux/vdpa.h has no .reset_map"
    text = run_cli("check", str(FIXTURES / "kernel-idioms")).stdout
    assert "note: VDPA002 not applicable: include/linux/vdpa.h has no .compat_reset" in text
    assert "this tree's vdpa.h has no .compat_reset/.reset_map" in text


def test_select_and_ignore() -> None:
    ids = {f["rule_id"] for f in check_json(DEMO, extra=("--select", "VDPA001"))["findings"]}
    assert ids == {"VDPA001"}
    ids = {
        f["rule_id"] for f in check_json(DEMO, extra=("--ignore", "VDPA001,compat-reset-missing"))["findings"]
    }
    assert ids == {"VDPA005"}


def test_output_is_deterministic_and_written_atomically(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    first = run_cli("check", "--format", "json", "-o", str(out), str(FIXTURES))
    assert first.returncode == 1 and first.stdout == ""
    again = run_cli("check", "--format", "json", str(FIXTURES))
    assert out.read_text() == again.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]  # no temp file left behind
    _one_line_error(run_cli("check", "-o", str(tmp_path / "no" / "r.json"), str(DEMO)), "does not exist")


def test_output_under_a_file_names_it_as_not_a_directory(tmp_path: Path) -> None:
    (tmp_path / "notes").write_text("x")
    proc = run_cli("check", "-o", str(tmp_path / "notes" / "r.json"), str(DEMO))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == f"vdpa-lint: error: {tmp_path}/notes/r.json: {tmp_path}/notes is not a directory\n"


# -- smoke tests: the real program in its own process (the rest run in-process) --------------


def test_module_is_the_program() -> None:
    proc = run_process("check", str(DEMO))
    assert proc.returncode == 1, proc.stderr
    assert (
        "drivers/vdpa/legacy_vdpa/legacy_mr.c:7:2: error: legacy_ops: .reset (legacy_reset) clears"
        in proc.stdout
    )
    assert run_process("--version").stdout.startswith("vdpa-lint ")


def test_console_script_is_the_program() -> None:
    script = Path(sys.executable).parent / "vdpa-lint"
    exe = str(script) if script.exists() else shutil.which("vdpa-lint")
    assert exe, "the vdpa-lint console script is not installed"
    proc = subprocess.run([exe, "rules"], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("VDPA000 analysis-incomplete [error]")


# -- bad input ---------------------------------------------------------------------------


def test_missing_path(tmp_path: Path) -> None:
    _one_line_error(run_cli("check", str(tmp_path / "nope")), "no such file or directory")


def test_named_binary_file(tmp_path: Path) -> None:
    f = tmp_path / "blob.c"
    f.write_bytes(b"int x;\0\x01\x02")
    _one_line_error(run_cli("check", str(f)), "binary file")


def test_named_non_utf8_file(tmp_path: Path) -> None:
    f = tmp_path / "latin.c"
    f.write_bytes("/* caf\xe9 */ int x;\n".encode("latin-1"))
    _one_line_error(run_cli("check", str(f)), "not UTF-8")


def test_named_huge_file(tmp_path: Path) -> None:
    f = tmp_path / "huge.c"
    with f.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    _one_line_error(run_cli("check", str(f)), "file too large (52.4 MB")


def test_named_syntax_garbage(tmp_path: Path) -> None:
    f = tmp_path / "garbage.c"
    f.write_text("@@@ }}} ((( this is not C ;;; <<<>>>\n" * 20)
    _one_line_error(run_cli("check", str(f)), "not C source")


def test_symlink_loop(tmp_path: Path) -> None:
    (tmp_path / "a.c").symlink_to(tmp_path / "b.c")
    (tmp_path / "b.c").symlink_to(tmp_path / "a.c")
    _one_line_error(run_cli("check", str(tmp_path / "a.c")), "symbolic link loop")


def test_directory_without_vdpa_parent(tmp_path: Path) -> None:
    (tmp_path / "plain.c").write_text("int main(void) { return 0; }\n")
    _one_line_error(run_cli("check", str(tmp_path)), "no vDPA parent driver")


def test_unknown_option() -> None:
    _one_line_error(run_cli("check", "--frobnicate", str(DEMO)), "unrecognized arguments")


def test_bad_files_inside_a_tree_are_reported_not_skipped(tmp_path: Path) -> None:
    import shutil

    tree = tmp_path / "tree"
    shutil.copytree(DEMO, tree, symlinks=False)
    drv = tree / "drivers" / "vdpa" / "legacy_vdpa"
    (drv / "loop1.c").symlink_to(drv / "loop2.c")
    (drv / "loop2.c").symlink_to(drv / "loop1.c")
    (drv / "dangling.c").symlink_to(tmp_path / "gone.c")
    (drv / "latin.h").write_bytes(b"/* \xe9 */\n")
    if os.geteuid() != 0:  # root reads anything: there the dangling link stands for an unreadable file
        (drv / "secret.c").write_text("int x;\n")
        (drv / "secret.c").chmod(0)
    proc = run_cli("check", "--format", "json", str(tree))
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    errors = {e["path"]: e["message"] for e in data["errors"]}
    assert errors["drivers/vdpa/legacy_vdpa/loop1.c"] == "cannot read: symbolic link loop"
    assert errors["drivers/vdpa/legacy_vdpa/dangling.c"] == "cannot read: No such file or directory"
    assert errors["drivers/vdpa/legacy_vdpa/latin.h"].startswith("not UTF-8 text")
    assert "warning: drivers/vdpa/legacy_vdpa/latin.h: not UTF-8 text" in proc.stderr
    # unreadable files may hold an ops table: fail closed with VDPA000
    vdpa000 = {f["path"] for f in data["findings"] if f["rule_id"] == "VDPA000"}
    assert {"drivers/vdpa/legacy_vdpa/loop1.c", "drivers/vdpa/legacy_vdpa/dangling.c"} <= vdpa000
    assert "drivers/vdpa/legacy_vdpa/latin.h" not in vdpa000  # readable bytes, no ops table in them


def test_json_lists_unfollowed_calls_at_top_level() -> None:
    """SPEC §4: `unfollowed` is a top-level list naming each call's ops table."""
    data = check_json(FIXTURES / "unknowns")
    assert {
        "path": "drivers/vdpa/unk/broken_mr.c",
        "message": (
            "could not parse line 1 (outside any function analysed); definitions lost: br_lost_prune() at line 21"
        ),
    } in data["errors"]
    by_table = {u["ops_table"]: u for u in data["unfollowed"]}
    assert by_table["br_lost_ops"]["why"] == (
        "cannot analyse br_lost_prune(): drivers/vdpa/unk/broken_mr.c: the definition at line 21 could not be parsed"
    )
    assert by_table["un_hwops_ops"] == {
        "ops_table": "un_hwops_ops",
        "op": "reset",
        "path": "drivers/vdpa/unk/unk.c",
        "line": 54,
        "callee": "d->hw->flush",
        "why": "call through a function pointer (d->hw->flush) that nothing in the tree is stored in",
    }
    per_table = [dict(u, ops_table=d["ops_table"]) for d in data["drivers"] for u in d["unfollowed"]]
    assert data["unfollowed"] == per_table


def test_jobs_must_be_a_positive_number_of_processes() -> None:
    for bad in ("0", "-3", "two", ""):
        _one_line_error(
            run_cli("check", "-j", bad, str(DEMO)), f"expected a number of processes (1 or more), got {bad!r}"
        )
    one = check_json(DEMO, extra=("--jobs", "1"))
    assert one == check_json(DEMO, extra=("--jobs", "4"))
    assert {(f["rule_id"], f["path"], f["line"]) for f in one["findings"]} == {
        (f["rule_id"], f["path"], f["line"]) for f in check_json(DEMO)["findings"]
    }
