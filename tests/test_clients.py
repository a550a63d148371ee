"""The maintainers' own clients driving vdpa-lint: b4, pre-commit, pwclient and Microsoft's
SARIF multitool, as installed by scripts/install-test-deps (never a stand-in). No test
reaches a server: pwclient's argument parser is run on what the README's loop builds."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO
from gitseries import ENV, commit, git, repo_from
from kernel_corpus import kernel_tree

DEMO = FIXTURES / "demo-kernel"
GOOD = "drivers/vdpa/good_vdpa/good_main.c"
UNGUARD = ("\tif (flags & VDPA_RESET_F_CLEAN_MAP) {", "\t{")
COMMENT = ("static void good_do_reset", "/* Reset the device; maps stay. */\nstatic void good_do_reset")
TOOLS = Path(os.environ.get("VDPA_LINT_TOOLS") or Path.home() / ".cache" / "vdpa-lint" / "tools")
MULTITOOL = TOOLS / "npm/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"


def client(name: str) -> Path:
    path = MULTITOOL if name == "sarif-multitool" else TOOLS / "venv" / "bin" / name
    assert path.is_file(), f"{path} is missing: run scripts/install-test-deps"
    return path


def client_env(home: Path) -> dict[str, str]:
    """vdpa-lint of this checkout first on PATH, a HOME of the test's own (no user config)."""
    home.mkdir(parents=True, exist_ok=True)
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**ENV, "PATH": path, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}


def test_b4_prep_check_runs_check_patch_per_patch(tmp_path: Path) -> None:
    repo = repo_from(DEMO, tmp_path / "repo")
    env = client_env(tmp_path / "home")
    git(repo, "config", "user.name", "Test Author")
    git(repo, "config", "user.email", "author@example.org")
    b4 = str(client("b4"))
    subprocess.run([b4, "prep", "-n", "reset-doc"], cwd=repo, env=env, check=True, capture_output=True)
    commit(repo, "good_vdpa: document reset", {GOOD: COMMENT})
    commit(repo, "good_vdpa: clear maps on every reset", {GOOD: UNGUARD})
    git(repo, "config", "b4.prep-perpatch-check-cmd", "vdpa-lint check-patch")
    proc = subprocess.run(
        [b4, "prep", "--check"], cwd=repo, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    report = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)  # b4's coloured bullets
    lines = [line.strip().lstrip("● ").strip() for line in report.splitlines()]
    first = git(repo, "rev-parse", "HEAD~1").strip()[:12]
    second = git(repo, "rev-parse", "HEAD").strip()[:12]
    i = lines.index(f"{first}: good_vdpa: document reset")
    assert lines[i + 1] == f"{second}: good_vdpa: clear maps on every reset"
    assert lines[i + 2 : i + 4] == [
        f"vdpa-lint: {GOOD}:22: ERROR: [VDPA001] good_ops: .reset (good_reset) clears upper-layer IOTLB mappings: "
        "good_reset -> good_compat_reset -> good_do_reset -> good_restore_passthrough -> vhost_iotlb_reset()",
        f"vdpa-lint: {GOOD}:22: ERROR: [VDPA003] good_ops: .compat_reset (good_compat_reset) clears mappings even without "
        "VDPA_RESET_F_CLEAN_MAP: good_compat_reset -> good_do_reset -> good_restore_passthrough -> vhost_iotlb_reset()",
    ]
    assert "Success: 1, Warning: 0, Error: 2" in lines


def test_pre_commit_hooks_on_commit_and_on_push(tmp_path: Path) -> None:
    untracked = [
        line for line in git(REPO, "status", "--porcelain", "--", "analyzer").splitlines() if line[:2] == "??"
    ]
    if untracked:  # try-repo installs the tracked files (and their uncommitted changes) only
        pytest.fail(f"pre-commit try-repo would miss untracked files: {untracked}")
    repo = repo_from(DEMO, tmp_path / "repo")
    env = {**client_env(tmp_path / "home"), "PRE_COMMIT_HOME": str(tmp_path / "pre-commit")}
    pc = str(client("pre-commit"))

    def try_repo(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [pc, "try-repo", str(REPO), *args], cwd=repo, env=env, capture_output=True, text=True, timeout=600
        )

    # A staged change outside the vDPA subsystem: the hook does not run.
    (repo / "README").write_text("demo\n")
    git(repo, "add", "README")
    proc = try_repo("vdpa-lint")
    assert proc.returncode == 0 and re.search(
        r"vdpa-lint \(vDPA reset/mapping contract\)\.+\(no files to check\)Skipped", proc.stdout
    ), proc.stdout
    # A staged vDPA change: the whole tree is checked, and legacy_vdpa breaks the contract.
    git(repo, "commit", "-q", "-m", "readme")
    (repo / GOOD).write_text((repo / GOOD).read_text().replace(*COMMENT))
    git(repo, "add", GOOD)
    proc = try_repo("vdpa-lint")
    assert proc.returncode == 1, proc.stdout
    assert (
        "drivers/vdpa/legacy_vdpa/legacy_mr.c:7:2: error: legacy_ops: .reset (legacy_reset) clears upper-layer IOTLB "
        "mappings: legacy_reset -> legacy_teardown_mr -> legacy_prune -> vhost_iotlb_del_range() "
        "[VDPA001 reset-clears-map]" in proc.stdout.splitlines()
    )
    # On push: each pushed commit judged by what it introduces.
    base = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "commit", "-q", "-m", "good_vdpa: document reset")
    commit(repo, "good_vdpa: clear maps on every reset", {GOOD: UNGUARD})
    proc = try_repo("vdpa-lint-gate", "--hook-stage", "pre-push", "--from-ref", base, "--to-ref", "HEAD")
    assert proc.returncode == 1, proc.stdout
    out = proc.stdout.splitlines()
    assert "[1/2] good_vdpa: document reset: SUCCESS — no new findings" in out
    assert (
        "[2/2] good_vdpa: clear maps on every reset: FAIL — introduces 2 findings (VDPA001, VDPA003)" in out
    )
    proc = try_repo("vdpa-lint-gate", "--hook-stage", "pre-push", "--from-ref", base, "--to-ref", "HEAD~1")
    assert proc.returncode == 0, proc.stdout
    # No range known (pre-commit run --all-files): the whole tree, where legacy_vdpa fails.
    proc = try_repo("vdpa-lint-gate", "--hook-stage", "pre-push", "--all-files")
    assert proc.returncode == 1 and "[VDPA001 reset-clears-map]" in proc.stdout, proc.stdout
    assert "vdpa-lint gate:" not in proc.stdout


FAKE_PWCLIENT = """#!{python}
# pwclient's own argument parser on the argument vector, then a canned answer (no server).
import json, os, sys
from pwclient.parser import get_parser
args = get_parser().parse_args(sys.argv[1:])
with open(os.environ["PWCLIENT_LOG"], "a") as fh:
    fh.write(json.dumps({{"argv": sys.argv[1:], "parsed": {{k: v for k, v in vars(args).items() if k != "func"}}}}) + "\\n")
if args.subcmd == "list":
    print({{"<a@example.org>": 11, "<b@example.org>": 12}}[args.msgid])
"""


def test_readme_pwclient_loop_builds_argument_vectors_pwclient_accepts(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    loop = next(line for line in readme.splitlines() if "pwclient check-create" in line)
    repo = repo_from(DEMO, tmp_path / "repo")
    commit(repo, "good_vdpa: document reset", {GOOD: COMMENT})
    commit(repo, "good_vdpa: clear maps on every reset", {GOOD: UNGUARD})
    patches = git(repo, "format-patch", "-o", str(tmp_path / "series"), "HEAD~2..HEAD").split()
    mbox = tmp_path / "series.mbox"
    with mbox.open("w") as out:
        for name, msgid in zip(patches, ("<a@example.org>", "<b@example.org>"), strict=True):
            text = Path(name).read_text()
            head, rest = text.split("\n", 1)
            out.write(f"{head}\nMessage-Id: {msgid}\n{rest}\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "pwclient"
    fake.write_text(FAKE_PWCLIENT.format(python=client("python")))
    fake.chmod(0o755)
    log = tmp_path / "pwclient.log"
    env = client_env(tmp_path / "home")
    env |= {
        "PATH": f"{bin_dir}{os.pathsep}{env['PATH']}",
        "PWCLIENT_LOG": str(log),
        "TREE": str(DEMO),
        "MBOX": str(mbox),
    }
    proc = subprocess.run(["bash", "-c", loop], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    creates = [c for c in calls if c["argv"][0] == "check-create"]
    assert [c["argv"] for c in calls if c["argv"][0] == "list"] == [
        ["list", "-m", "<a@example.org>", "-f", "%{id}"],
        ["list", "-m", "<b@example.org>", "-f", "%{id}"],
    ]
    parsed = [
        (
            c["parsed"]["id"],
            c["parsed"]["state"],
            c["parsed"]["context"],
            c["parsed"]["target_url"],
            c["parsed"]["description"],
        )
        for c in creates
    ]
    assert [p[:4] for p in parsed] == [
        (["11"], "success", "vdpa-lint", "https://ci.example.org/a@example.org/a@example.org"),
        (["12"], "fail", "vdpa-lint", "https://ci.example.org/a@example.org/b@example.org"),
    ]
    assert parsed[0][4].endswith(": no new findings")
    assert parsed[1][4].endswith(": introduces 2 findings (VDPA001, VDPA003)")


def _multitool_findings(sarif: Path, out: Path) -> list[tuple[str, str]]:
    """Results of the multitool's GitHub rule set (every level), run without a network."""
    cmd = [str(client("sarif-multitool")), "validate", "--rule-kind", "Gh", "--level", "Error;Warning;Note"]
    cmd += ["--output", str(out), str(sarif)]
    if (
        shutil.which("unshare")
        and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0
    ):
        cmd = ["unshare", "-n", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads(out.read_text(encoding="utf-8-sig"))["runs"][0].get("results", [])
    return [(r["ruleId"], r.get("level", "warning")) for r in results]


def test_sarif_multitool_github_rules_pass_on_the_fixture(tmp_path: Path) -> None:
    sarif = tmp_path / "demo.sarif"
    proc = subprocess.run(
        [sys.executable, "-m", "analyzer", "check", "--format", "sarif", "-o", str(sarif), str(DEMO)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1, proc.stderr
    assert _multitool_findings(sarif, tmp_path / "v.sarif") == []
    # ... and the rule set does look: a result without a message text or a location fails it.
    log = json.loads(sarif.read_text())
    log["runs"][0]["results"][0]["message"] = {"id": "default", "arguments": ["x"]}
    del log["runs"][0]["results"][1]["locations"]
    broken = tmp_path / "broken.sarif"
    broken.write_text(json.dumps(log))
    assert {rule for rule, _ in _multitool_findings(broken, tmp_path / "v2.sarif")} >= {"GH1015", "GH1017"}


@pytest.mark.kernel
def test_sarif_multitool_github_rules_pass_on_linux_6_12(tmp_path: Path) -> None:
    sarif = tmp_path / "k.sarif"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "analyzer",
            "check",
            "--format",
            "sarif",
            "--fail-on",
            "never",
            "-o",
            str(sarif),
            str(kernel_tree("6.12")),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(sarif.read_text())["runs"][0]["results"]) == 1
    assert _multitool_findings(sarif, tmp_path / "v.sarif") == []
