"""Rule files: their examples run, and malformed files are refused with a clear message."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from annotations import read_expectations
from conftest import FIXTURES, REPO, run_cli

from analyzer.engine import analyse
from analyzer.rulebook import RuleFileError, load_rules, parse_rule, resolve_rule_ids
from analyzer.semantics.kb import KnowledgeError, load_knowledge, rules_dir

RULES = load_rules()
CHECK_RULES = sorted(r.id for r in RULES.values() if r.scope == "check")
HEADER = FIXTURES / "api" / "linux-6.7" / "include" / "linux" / "vdpa.h"


def _example_tree(tmp_path: Path, source: str) -> Path:
    (tmp_path / "include" / "linux").mkdir(parents=True)
    shutil.copy(HEADER, tmp_path / "include" / "linux" / "vdpa.h")
    driver = tmp_path / "drivers" / "vdpa" / "example"
    driver.mkdir(parents=True)
    (driver / "example.c").write_text("#include <linux/vdpa.h>\n" + source, encoding="utf-8")
    return tmp_path


def _lines_of(rule_id: str, tree: Path) -> list[tuple[str, int]]:
    result = analyse([str(tree)], RULES, set(RULES))
    return sorted((f.path, f.line) for f in result.findings if f.rule_id == rule_id)


@pytest.mark.parametrize("rule_id", CHECK_RULES)
def test_bad_example_fires_where_annotated(rule_id: str, tmp_path: Path) -> None:
    rule = RULES[rule_id]
    assert rule.bad_example is not None
    tree = _example_tree(tmp_path, rule.bad_example)
    expected = sorted((k[1], k[2]) for k in read_expectations(tree).expect if k[0] == rule_id)
    assert expected, f"{rule.source}: the bad example must mark its finding with /* expect: {rule_id} */"
    assert _lines_of(rule_id, tree) == expected


@pytest.mark.parametrize("rule_id", CHECK_RULES)
def test_good_example_is_silent(rule_id: str, tmp_path: Path) -> None:
    rule = RULES[rule_id]
    assert rule.good_example is not None
    assert _lines_of(rule_id, _example_tree(tmp_path, rule.good_example)) == []


# The Linux commits of the 6.7 contract, as user-facing text cites them (SPEC §2).
KERNEL_COMMITS = {
    "d2cf1b6e3b85": "vdpa: introduce .reset_map operation callback",
    "a26f2e4e68ee": "vdpa: introduce .compat_reset operation callback",
    "bc91df5c70ac": "vhost-vdpa: clean iotlb map during reset for older userspace",
    "a72cac6067fd": "vdpa: introduce dedicated descriptor group for virtqueue",
}


def test_every_rule_cites_its_kernel_commits_and_explains_the_fix() -> None:
    for rule in RULES.values():
        assert rule.commits and set(rule.commits) <= set(KERNEL_COMMITS), (rule.id, rule.commits)
        for commit in rule.commits:
            assert commit in rule.rationale or commit in " ".join(rule.references), (rule.id, commit)
        assert rule.fix.strip(), rule.id


def _user_facing_texts(tmp_path: Path) -> dict[str, str]:
    texts = {str(p.relative_to(REPO)): p.read_text() for p in sorted((REPO / "rules").glob("*.toml"))}
    templates = REPO / "analyzer" / "templates"
    texts |= {str(p.relative_to(REPO)): p.read_text() for p in sorted(templates.glob("*"))}
    for args in [("rules",), ("rules", "--format", "json"), *(("rules", r) for r in RULES)]:
        texts[" ".join(args)] = run_cli(*args).stdout
    for tree in ("demo-kernel", "kernel-idioms", "table-rules"):
        for fmt in ("text", "json", "sarif"):
            texts[f"check {tree} {fmt}"] = run_cli(
                "check", "--fail-on", "never", "--format", fmt, str(FIXTURES / tree)
            ).stdout
        run_cli("report", str(FIXTURES / tree), "-o", str(tmp_path / f"{tree}.html"))
        texts[f"report {tree}"] = (tmp_path / f"{tree}.html").read_text()
    return texts


def test_no_user_facing_text_cites_seeds(tmp_path: Path) -> None:
    """'seed 002' is a name from this project's research notes: users get kernel commits."""
    texts = _user_facing_texts(tmp_path)
    assert all(texts.values())
    leaks = {where: re.findall(r".{0,40}\bseeds?\b.{0,40}", text, re.I) for where, text in texts.items()}
    assert {k: v for k, v in leaks.items() if v} == {}


def test_ids_are_the_public_set() -> None:
    assert sorted(RULES) == [f"VDPA{i:03d}" for i in range(11)]


GOOD_RULE = """
id = "VDPA042"
name = "demo-rule"
severity = "warning"
confidence = "high"
scope = "check"
summary = "s"
rationale = "r (Linux commit a26f2e4e68ee)"
fix = "f"
commits = ["a26f2e4e68ee"]

[example]
bad = "int x;"
good = "int y;"
"""


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('severity = "warning"', 'severity = "fatal"'), "severity must be one of"),
        (lambda t: t.replace('id = "VDPA042"', 'id = "X1"'), "is not of the form"),
        (lambda t: t.replace('fix = "f"\n', ""), "missing fix"),
        (lambda t: 'colour = "red"\n' + t, "unknown keys"),
        (lambda t: t + 'colour = "red"\n', "[example] takes 'bad' and 'good'"),
        (lambda t: t.replace('[example]\nbad = "int x;"\n', "[example]\n"), "needs [example] bad and good"),
        (lambda t: t.replace('commits = ["a26f2e4e68ee"]', "commits = 0"), "must be a list of strings"),
        (lambda t: t.replace('"a26f2e4e68ee"', '"seed 000"'), "must list Linux commit ids"),
        (lambda t: t.replace('["a26f2e4e68ee"]', "[]"), "must list Linux commit ids"),
        (lambda t: t + "[[[", "VDPA042-demo-rule.toml"),
    ],
)
def test_malformed_rule_file_is_refused_clearly(edit, message: str, tmp_path: Path) -> None:
    path = tmp_path / "VDPA042-demo-rule.toml"
    path.write_text(edit(GOOD_RULE), encoding="utf-8")
    with pytest.raises(RuleFileError, match=re.escape(message)):
        parse_rule(path)


def test_rule_file_name_must_match_id_and_name(tmp_path: Path) -> None:
    path = tmp_path / "VDPA042-other.toml"
    path.write_text(GOOD_RULE, encoding="utf-8")
    with pytest.raises(RuleFileError, match=re.escape("must be named VDPA042-demo-rule.toml")):
        parse_rule(path)


def test_retired_ids_are_never_reused(tmp_path: Path) -> None:
    (tmp_path / "VDPA042-demo-rule.toml").write_text(GOOD_RULE, encoding="utf-8")
    (tmp_path / "retired.toml").write_text('[retired]\nVDPA042 = "withdrawn: too noisy"\n')
    with pytest.raises(RuleFileError, match="retired"):
        load_rules(tmp_path)


def test_rules_are_selected_by_id_name_or_alias() -> None:
    assert resolve_rule_ids(RULES, ["VDPA001,reset-map-missing"]) == {"VDPA001", "VDPA005"}
    with pytest.raises(RuleFileError, match="unknown rule"):
        resolve_rule_ids(RULES, ["VDPA999"])


def test_knowledge_base_entries_all_give_a_reason() -> None:
    kb = load_knowledge()
    assert kb.get("vhost_iotlb_reset") is not None
    # VDUSE's bounce window is derived from its code now, not described by hand.
    assert kb.get("vduse_domain_reset_bounce_map") is None
    assert all(p.reason.strip() for p in kb.entries.values())
    assert all(r.strip() for r in kb.constant_reasons.values())
    assert kb.constants["ULLONG_MAX"] == (1 << 64) - 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[function]]\nname = "f"\neffects = []\n', "needs a reason"),
        ('[[function]]\nname = "f"\neffects = [{ explodes = "$0" }]\nreason = "r"\n', "exactly one of"),
        ('[[function]]\nname = "f"\neffects = [{ deletes = "0" }]\nreason = "r"\n', "argument reference"),
        (
            '[[function]]\nname = "f"\neffects = [{ deletes = "$0", range = ["$1"] }]\nreason = "r"\n',
            "range must",
        ),
        (
            '[[function]]\nname = "f"\neffects = [{ binds = "$0", range = ["$1", "$2"] }]\nreason = "r"\n',
            "does not take",
        ),
        ('[[function]]\nname = "f"\nreason = "r"\n', "say its effects"),
        (
            '[[function]]\nname = "f"\neffects = []\nreason = "r"\n[[function]]\nname = "f"\neffects = []\nreason = "r"\n',
            "listed twice",
        ),
        ('[constants]\nX = { value = "zz", reason = "r" }\n', "not a number"),
        ('[[primitive]]\nname = "f"\n', "unknown tables"),
    ],
)
def test_malformed_knowledge_base_is_refused(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "primitives.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(KnowledgeError, match=message):
        load_knowledge(path)


def test_rules_command_renders_the_rule_text() -> None:
    listing = run_cli("rules")
    assert listing.returncode == 0
    for rule_id in RULES:
        assert rule_id in listing.stdout
    one = run_cli("rules", "VDPA001")
    assert "Why:" in one.stdout and "Fix:" in one.stdout and "compat_reset" in one.stdout
    assert rules_dir().is_dir()
