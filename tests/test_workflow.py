"""The maintainer's workflow, in-process: help and version, .vdpa-lint.toml, -q/--terse,
GitHub annotations, SARIF help links and rule docs, check-patch, patchwork records, cc."""

from __future__ import annotations

import argparse
import json
import shutil
from importlib import metadata
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO
from gitseries import commit, git, repo_from

from analyzer.cli import build_parser, main
from analyzer.formats.ruledoc import render_rule_doc
from analyzer.rulebook import load_rules

DEMO = FIXTURES / "demo-kernel"
GOOD = "drivers/vdpa/good_vdpa/good_main.c"
LEGACY_MAIN = "drivers/vdpa/legacy_vdpa/legacy_main.c"
LEGACY_MR = "drivers/vdpa/legacy_vdpa/legacy_mr.c"
UNGUARD = ("\tif (flags & VDPA_RESET_F_CLEAN_MAP) {", "\t{")
COMMENT = ("static void good_do_reset", "/* Reset the device; maps stay. */\nstatic void good_do_reset")
VDPA001_LEGACY = (
    f"{LEGACY_MR}:7:2: error: legacy_ops: .reset (legacy_reset) clears upper-layer IOTLB mappings: legacy_reset -> "
    "legacy_teardown_mr -> legacy_prune -> vhost_iotlb_del_range() [VDPA001 reset-clears-map]"
)
VDPA002_LEGACY = (
    f"{LEGACY_MAIN}:29:1: error: legacy_ops: .reset clears mappings and there is no .compat_reset to keep "
    "that behaviour for userspace without VHOST_BACKEND_F_IOTLB_PERSIST [VDPA002 compat-reset-missing]"
)
VDPA005_LEGACY = (
    f"{LEGACY_MAIN}:29:1: note: legacy_ops has .set_map but no .reset_map; vhost-vdpa cannot return an "
    "address space to its initial mapping on release [VDPA005 reset-map-missing]"
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def tree_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(DEMO, tmp_path / "tree", symlinks=False))


# -- help and version -------------------------------------------------------------------


def _parsers(p: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    out = [p]
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                out += _parsers(sub)
    return out


def test_every_option_has_help_and_every_help_lists_the_exit_statuses() -> None:
    parsers = _parsers(build_parser())
    assert {p.prog for p in parsers} >= {
        f"vdpa-lint {c}" for c in ("check", "report", "gate", "rules", "check-patch", "cc")
    }
    for p in parsers:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            assert action.help, f"{p.prog}: {action.option_strings or action.dest} has no help text"
        text = p.format_help()
        assert "exit status:\n  0  nothing at or above --fail-on" in text, p.prog
        assert "  2  the run could not be done" in text


def test_usage_error_names_the_subcommands_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", "--frobnicate", str(DEMO))
    assert (code, err) == (
        2,
        "vdpa-lint: error: unrecognized arguments: --frobnicate (see 'vdpa-lint check --help')\n",
    )
    code, _, err = run(capsys, "gate", "--tree", str(DEMO), "--format", "xml", "p.patch")
    assert code == 2 and err.endswith("(see 'vdpa-lint gate --help')\n") and err.count("\n") == 1
    code, _, err = run(capsys, "frobnicate")
    assert code == 2 and err.endswith("(see 'vdpa-lint --help')\n")


def test_version_names_the_parser_and_the_rules(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(capsys, "--version")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3 and lines[0].startswith("vdpa-lint 0.")
    ts, tsc = metadata.version("tree-sitter"), metadata.version("tree-sitter-c")
    assert lines[1] == f"tree-sitter {ts}, tree-sitter-c {tsc}"
    assert lines[2].startswith("rules sha256:") and len(lines[2]) == len("rules sha256:") + 16
    # The digest follows the rule files' text.
    rules = Path(shutil.copytree(REPO / "rules", tmp_path / "rules"))
    monkeypatch.setattr("analyzer.semantics.kb.rules_dir", lambda: rules)
    assert run(capsys, "--version")[1].splitlines()[2] == lines[2]
    first = sorted(rules.glob("VDPA001*.toml"))[0]
    first.write_text(first.read_text() + "\n# edited\n")
    assert run(capsys, "--version")[1].splitlines()[2] != lines[2]


# -- configuration ---------------------------------------------------------------------


def test_config_file_sets_defaults_and_the_command_line_wins(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tree = tree_copy(tmp_path)
    (tree / ".vdpa-lint.toml").write_text('select = ["VDPA001", "reset-map-missing"]\nfail-on = "never"\n')
    code, out, _ = run(capsys, "check", "-q", "--terse", str(tree / "drivers"))
    assert (code, out.splitlines()) == (0, [VDPA005_LEGACY, VDPA001_LEGACY])
    code, out, _ = run(
        capsys, "check", "-q", "--terse", "--select", "VDPA002", "--fail-on", "error", str(tree)
    )
    assert (code, out.splitlines()) == (1, [VDPA002_LEGACY])
    code, out, _ = run(capsys, "check", "--show-config", "--fail-on", "error", str(tree / "drivers/vdpa"))
    assert code == 0
    assert out.splitlines() == [
        f"# {tree / '.vdpa-lint.toml'}",
        f'select = ["VDPA001", "reset-map-missing"]  # {tree / ".vdpa-lint.toml"}',
        "ignore = []  # default",
        'fail-on = "error"  # command line',
        "baseline = (none)  # default",
        "exclude = (none)  # default",
    ]


def test_config_baseline_and_exclude(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    tree = tree_copy(tmp_path)
    code, _, _ = run(
        capsys,
        "check",
        "--write-baseline",
        str(tree / "accepted.json"),
        "--reason",
        "legacy",
        "--select",
        "VDPA001",
        str(tree),
    )
    assert code == 0
    (tree / ".vdpa-lint.toml").write_text('baseline = "accepted.json"\nignore = ["VDPA005"]\n')
    code, out, _ = run(capsys, "check", "-q", "--terse", str(tree))
    assert (code, out.splitlines()) == (1, [VDPA002_LEGACY])
    (tree / ".vdpa-lint.toml").write_text('exclude = ["drivers/vdpa/legacy_vdpa"]\n')
    code, out, _ = run(capsys, "check", "-q", str(tree))
    assert (code, out) == (0, "")
    code, out, _ = run(capsys, "check", "--format", "json", "--exclude", "*/good_vdpa/*", str(tree))
    data = json.loads(out)
    assert [d["ops_table"] for d in data["drivers"]] == ["legacy_ops"]  # the command line wins


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("select = [", "not valid TOML"),
        ('selct = ["VDPA001"]', "unknown key 'selct' (known: select, ignore, fail-on, baseline, exclude)"),
        ('fail-on = "sometimes"', "'fail-on' must be one of error, warning, note, never, not 'sometimes'"),
        ("select = [1]", "'select' must be a list of non-empty strings"),
        ("select = []", "'select' is empty"),
    ],
)
def test_malformed_config_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, message: str
) -> None:
    tree = tree_copy(tmp_path)
    (tree / ".vdpa-lint.toml").write_text(text + "\n")
    code, out, err = run(capsys, "check", str(tree / "drivers"))
    assert (code, out) == (2, "")
    assert err.startswith(f"vdpa-lint: error: {tree / '.vdpa-lint.toml'}: ") and message in err
    assert err.count("\n") == 1


def test_config_is_not_looked_for_above_the_tree(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    tree = tree_copy(tmp_path)
    (tmp_path / ".vdpa-lint.toml").write_text("nonsense = 1\n")  # above the kernel tree: not its file
    assert run(capsys, "check", "-q", "--fail-on", "never", str(tree))[0] == 0


# -- text and GitHub output ------------------------------------------------------------


def test_quiet_and_terse(capsys: pytest.CaptureFixture[str]) -> None:
    _, full, _ = run(capsys, "check", str(DEMO))
    _, quiet, _ = run(capsys, "check", "-q", str(DEMO))
    _, terse, _ = run(capsys, "check", "--terse", str(DEMO))
    assert quiet == "".join(line + "\n" for line in full.splitlines()[:-1])  # no summary
    assert "not applicable" not in quiet and "note: .reset = legacy_reset" in quiet
    assert terse.splitlines()[:3] == [VDPA002_LEGACY, VDPA005_LEGACY, VDPA001_LEGACY]
    assert terse.splitlines()[3].startswith("2 errors, 0 warnings, 1 note in 2 drivers")


def test_check_github_annotations(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--format", "github", str(DEMO))
    assert code == 1
    assert out.splitlines() == [
        f"::error file={LEGACY_MAIN},line=29,col=1,title=VDPA002 compat-reset-missing::legacy_ops: .reset "
        "clears mappings and there is no .compat_reset to keep that behaviour for userspace without "
        "VHOST_BACKEND_F_IOTLB_PERSIST",
        f"::notice file={LEGACY_MAIN},line=29,col=1,title=VDPA005 reset-map-missing::legacy_ops has .set_map "
        "but no .reset_map; vhost-vdpa cannot return an address space to its initial mapping on release",
        f"::error file={LEGACY_MR},line=7,col=2,title=VDPA001 reset-clears-map::legacy_ops: .reset (legacy_reset) clears "
        "upper-layer IOTLB mappings: legacy_reset -> legacy_teardown_mr -> legacy_prune -> vhost_iotlb_del_range()",
        "::notice title=vdpa-lint::3 findings in 2 ops tables",
    ]


# -- SARIF links and rule documentation --------------------------------------------------


def test_sarif_rules_link_their_documentation(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "check", "--format", "sarif", str(DEMO))
    driver = json.loads(out)["runs"][0]["tool"]["driver"]
    assert driver["informationUri"].startswith("https://")
    for rule in driver["rules"]:
        assert rule["helpUri"] == f"{driver['informationUri']}/blob/main/docs/rules/{rule['id']}.md"
        assert (REPO / "docs" / "rules" / f"{rule['id']}.md").is_file()


def test_rule_docs_are_rendered_from_the_rule_files() -> None:
    rules = load_rules()
    docs = sorted(p.name for p in (REPO / "docs" / "rules").glob("*.md"))
    assert docs == sorted(f"{r}.md" for r in rules), "run scripts/rule-docs"
    for rule in rules.values():
        page = (REPO / "docs" / "rules" / f"{rule.id}.md").read_text(encoding="utf-8")
        assert page == render_rule_doc(rule), f"docs/rules/{rule.id}.md is stale: run scripts/rule-docs"
        assert page.startswith(f"# {rule.id} {rule.name}\n")


# -- check-patch (b4) ------------------------------------------------------------------


@pytest.fixture
def series(tmp_path: Path) -> Path:
    repo = repo_from(DEMO, tmp_path / "repo")
    commit(repo, "good_vdpa: document reset", {GOOD: COMMENT})
    commit(repo, "good_vdpa: clear maps on every reset", {GOOD: UNGUARD})
    return repo


UNGUARDED = [
    f"{GOOD}:22: ERROR: [VDPA001] good_ops: .reset (good_reset) clears upper-layer IOTLB mappings: good_reset -> "
    "good_compat_reset -> good_do_reset -> good_restore_passthrough -> vhost_iotlb_reset()",
    f"{GOOD}:22: ERROR: [VDPA003] good_ops: .compat_reset (good_compat_reset) clears mappings even without "
    "VDPA_RESET_F_CLEAN_MAP: good_compat_reset -> good_do_reset -> good_restore_passthrough -> vhost_iotlb_reset()",
]


def _patch(repo: Path, rev: str) -> str:
    return git(repo, "format-patch", "-1", "--stdout", rev)


def test_check_patch_finds_the_commit_and_judges_it_against_its_parent(
    capsys: pytest.CaptureFixture[str], series: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from analyzer.workflow.checkpatch import find_commit

    monkeypatch.chdir(series / "drivers")  # b4 runs it at the top; anywhere in the work tree will do
    for rev, lines in (("HEAD~1", []), ("HEAD", UNGUARDED)):
        patch = _patch(series, rev)
        assert find_commit(series, patch.encode()) == git(series, "rev-parse", rev).strip()
        monkeypatch.setattr("sys.stdin", _Stdin(patch))
        code, out, err = run(capsys, "check-patch")
        assert (code, out.splitlines(), err) == (1 if lines else 0, lines, "")
    # The findings a patch only keeps are not its own: the legacy driver's are never reported.


class _Stdin:
    def __init__(self, text: str) -> None:
        import io

        self.buffer = io.BytesIO(text.encode())


def test_check_patch_outside_git_applies_the_patch_to_a_copy(
    capsys: pytest.CaptureFixture[str], series: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch = tmp_path / "unguard.patch"
    patch.write_text(_patch(series, "HEAD"))
    tree = tree_copy(tmp_path)
    commit_free = tree / GOOD
    commit_free.write_text(commit_free.read_text().replace(*COMMENT))  # the state the patch goes on
    before = commit_free.read_text()
    monkeypatch.chdir(tree)
    code, out, err = run(capsys, "check-patch", str(patch))
    assert (code, out.splitlines(), err) == (1, UNGUARDED, "")
    assert commit_free.read_text() == before  # applied to a copy only
    cover = tmp_path / "cover.patch"
    cover.write_text("From: a@example.org\nSubject: [PATCH 0/2] cover\n\nNo diff here.\n")
    assert run(capsys, "check-patch", "--tree", str(tree), str(cover)) == (0, "", "")


def test_check_patch_that_does_not_apply(
    capsys: pytest.CaptureFixture[str], series: Path, tmp_path: Path
) -> None:
    patch = tmp_path / "unguard.patch"
    patch.write_text(_patch(series, "HEAD"))
    tree = tree_copy(tmp_path)
    (tree / GOOD).write_text((tree / GOOD).read_text().replace(*UNGUARD))  # already there
    code, out, err = run(capsys, "check-patch", "--tree", str(tree), str(patch))
    assert (code, out) == (2, "")
    assert err == f"vdpa-lint: error: patch 1/1 ({patch}) does not apply: {GOOD}:31: hunk #1 does not apply\n"


# -- patchwork records -----------------------------------------------------------------


def test_patchwork_records_carry_message_ids_and_target_urls(
    capsys: pytest.CaptureFixture[str], series: Path, tmp_path: Path
) -> None:
    names = git(series, "format-patch", "--thread", "-o", str(tmp_path / "out"), "HEAD~2..HEAD").split()
    ids = [
        next(
            line.split(None, 1)[1]
            for line in Path(n).read_text().splitlines()
            if line.lower().startswith("message-id:")
        )
        for n in names
    ]
    code, out, _ = run(
        capsys, "gate", "--tree", str(DEMO), "--format", "patchwork",
        "--target-url", "https://ci.example.org/{series}/{patch}?n={number}/{total}", *names,
    )  # fmt: skip
    assert code == 1
    records = [json.loads(line) for line in out.splitlines()]
    first = ids[0].strip("<>")
    assert [(r["patch"], r["msgid"], r["state"], r["context"], r["target_url"]) for r in records] == [
        (1, ids[0], "success", "vdpa-lint", f"https://ci.example.org/{first}/{first}?n=1/2"),
        (2, ids[1], "fail", "vdpa-lint", f"https://ci.example.org/{first}/{ids[1].strip('<>')}?n=2/2"),
    ]
    assert records[1]["description"].endswith(": introduces 2 findings (VDPA001, VDPA003)")
    code, _, err = run(
        capsys, "gate", "--tree", str(DEMO), "--format", "patchwork", "--target-url", "x/{sha}", *names
    )
    assert (code, err) == (
        2,
        "vdpa-lint: error: --target-url 'x/{sha}': 'sha' is not a field (known: {series}, {patch}, {number}, {total})\n",
    )


# -- cc (kbuild) -----------------------------------------------------------------------

SWITCH = "CONFIG_GOOD_VDPA_ALWAYS_CLEAN"


def kbuild_argv(source: str) -> list[str]:
    """What kbuild runs for `make C=1 CHECK="vdpa-lint cc"` on x86_64 (6.12's Makefile and
    scripts/Makefile.build: $(CHECK) $(CHECKFLAGS) $(c_flags) $<), in-tree build."""
    obj = source.rsplit("/", 1)
    return [
        "-D__linux__", "-Dlinux", "-D__STDC__", "-Dunix", "-D__unix__", "-Wbitwise", "-Wno-return-void",
        "-Wno-unknown-attribute", "-D__x86_64__", "--arch=x86_64", "-mlittle-endian", "-m64",
        f"-Wp,-MMD,{obj[0]}/.{obj[1][:-2]}.o.d", "-nostdinc", "-I./arch/x86/include",
        "-I./arch/x86/include/generated", "-I./include", "-I./arch/x86/include/uapi",
        "-I./arch/x86/include/generated/uapi", "-I./include/uapi", "-I./include/generated/uapi",
        "-include", "./include/linux/compiler-version.h", "-include", "./include/linux/kconfig.h",
        "-include", "./include/linux/compiler_types.h", "-D__KERNEL__", "-fmacro-prefix-map=./=",
        "-std=gnu11", "-fshort-wchar", "-funsigned-char", "-fno-common", "-fno-PIE", "-fno-strict-aliasing",
        "-mno-sse", "-mno-mmx", "-m64", "-falign-jumps=1", "-mcmodel=kernel", "-Wall", "-Wundef",
        "-Werror=strict-prototypes", "-O2", "-fno-stack-protector", "-isystem", "/usr/lib/gcc/x86_64-linux-gnu/12/include",
        "-DMODULE", '-DKBUILD_BASENAME="good_main"', '-DKBUILD_MODNAME="good_vdpa"',
        "-D__KBUILD_MODNAME=kmod_good_vdpa", source,
    ]  # fmt: skip


@pytest.fixture
def configured_tree(tmp_path: Path) -> Path:
    """The demo tree whose good driver clears maps on every reset when one config symbol is set."""
    tree = tree_copy(tmp_path)
    good = tree / GOOD
    text = good.read_text()
    assert UNGUARD[0] + "\n" in text
    good.write_text(
        text.replace(UNGUARD[0] + "\n", f"#ifdef {SWITCH}\n\t{{\n#else\n{UNGUARD[0]}\n#endif\n", 1)
    )
    return tree


CC_VDPA001 = (
    f"{GOOD}:22:2: error: good_ops: .reset (good_reset) clears upper-layer IOTLB mappings: good_reset -> good_compat_reset "
    "-> good_do_reset -> good_restore_passthrough -> vhost_iotlb_reset() [VDPA001 reset-clears-map]"
)


def test_cc_takes_kbuilds_argv_and_the_configuration(
    capsys: pytest.CaptureFixture[str], configured_tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(configured_tree)  # kbuild runs from the top of the tree
    # No configuration known: both sides of the #ifdef are analysed.
    code, out, err = run(capsys, "cc", *kbuild_argv(GOOD))
    assert (code, out) == (0, "")  # as sparse: diagnostics on stderr, the build goes on
    lines = err.splitlines()
    assert lines[0] == CC_VDPA001
    assert lines[1] == f"{GOOD}:75:2: note: .reset = good_reset in good_ops"
    assert [line.split(" [")[-1] for line in lines if "error:" in line] == [
        "VDPA001 reset-clears-map]",
        "VDPA003 compat-reset-unguarded]",
    ]
    # kbuild's configuration (autoconf.h through kconfig.h) does not set the symbol: compliant.
    (configured_tree / "include/generated").mkdir()
    autoconf = configured_tree / "include/generated/autoconf.h"
    autoconf.write_text("#define CONFIG_VDPA_MODULE 1\n#define CONFIG_64BIT 1\n")
    assert run(capsys, "cc", *kbuild_argv(GOOD)) == (0, "", "")
    # ... and sets it: the clearing side is what is built.
    autoconf.write_text(f"#define CONFIG_VDPA_MODULE 1\n#define {SWITCH} 1\n")
    code, _, err = run(capsys, "cc", *kbuild_argv(GOOD))
    assert code == 0 and err.splitlines()[0] == CC_VDPA001
    # -D on the command line counts too; CF=-Wsparse-error makes findings fail the build.
    autoconf.write_text("#define CONFIG_VDPA_MODULE 1\n")
    code, _, err = run(
        capsys, "cc", *kbuild_argv(GOOD)[:5], f"-D{SWITCH}", "-Wsparse-error", *kbuild_argv(GOOD)[5:]
    )
    assert code == 1 and err.splitlines()[0] == CC_VDPA001
    # Files without an ops table pass at once, silently.
    assert run(capsys, "cc", *kbuild_argv(LEGACY_MR)) == (0, "", "")
    # The tree's .vdpa-lint.toml chooses the rules and the files, as for check.
    (configured_tree / ".vdpa-lint.toml").write_text('ignore = ["VDPA003"]\n')
    code, _, err = run(capsys, "cc", f"-D{SWITCH}", *kbuild_argv(GOOD))
    assert [line.split(" [")[-1] for line in err.splitlines() if "error:" in line] == [
        "VDPA001 reset-clears-map]"
    ]
    (configured_tree / ".vdpa-lint.toml").write_text('exclude = ["drivers/vdpa/good_vdpa"]\n')
    assert run(capsys, "cc", f"-D{SWITCH}", *kbuild_argv(GOOD)) == (0, "", "")


def test_cc_outside_a_tree_and_without_a_source(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lone = tmp_path / "x.c"
    lone.write_text("static const struct vdpa_config_ops x_ops = { .reset = x_reset };\n")
    code, _, err = run(capsys, "cc", "-D__KERNEL__", str(lone))
    assert (code, err) == (
        2,
        f"vdpa-lint: error: {lone}: no kernel tree above it (no include/linux/vdpa.h)\n",
    )
    code, _, err = run(capsys, "cc", "-D__KERNEL__", "-include")
    assert (code, err) == (2, "vdpa-lint: error: cc: -include needs a value\n")
