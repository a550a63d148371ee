"""Rule files: their examples run, and malformed files are refused with a clear message."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from annotations import read_expectations
from conftest import FIXTURES, run_cli

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


def test_every_rule_cites_a_seed_and_explains_the_fix() -> None:
    seeds = {p.name[:3] for p in (Path(__file__).parents[2] / "shared" / "seeds").glob("*.txt")}
    for rule in RULES.values():
        assert rule.seeds, rule.id
        if seeds:
            assert set(rule.seeds) <= seeds, f"{rule.id} cites unknown seeds {rule.seeds}"
        assert "seed" in rule.rationale, f"{rule.id}: the rationale must cite its seed"


def test_ids_are_the_public_set() -> None:
    assert sorted(RULES) == [f"VDPA00{i}" for i in range(10)]


GOOD_RULE = """
id = "VDPA042"
name = "demo-rule"
severity = "warning"
confidence = "high"
scope = "check"
summary = "s"
rationale = "r (seed 000)"
fix = "f"
seeds = ["000"]

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
        (lambda t: t.replace('seeds = ["000"]', "seeds = 0"), "must be a list of strings"),
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
