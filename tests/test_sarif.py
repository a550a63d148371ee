"""SARIF 2.1.0: valid against the official schema, and what GitHub code scanning requires."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from conftest import FIXTURES, run_cli

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())


def _sarif(tree: Path) -> dict:
    proc = run_cli("check", "--format", "sarif", "--fail-on", "never", str(tree))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("tree", ["demo-kernel", "table-rules", "kernel-idioms"])
def test_valid_against_the_official_schema(tree: str) -> None:
    jsonschema.Draft4Validator(SCHEMA).validate(_sarif(FIXTURES / tree))


def test_meets_github_code_scanning_rules() -> None:
    log = _sarif(FIXTURES / "demo-kernel")
    assert log["version"] == "2.1.0"
    [run] = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [f"VDPA{i:03d}" for i in range(11)]
    for r in rules:
        assert r["shortDescription"]["text"] and r["fullDescription"]["text"]
        assert r["help"]["text"] and r["help"]["markdown"]
        assert "expect:" not in r["help"]["markdown"]  # test annotations are not documentation
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].startswith("file:///")
    results = run["results"]
    assert {(r["ruleId"], r["level"]) for r in results} == {
        ("VDPA001", "error"),
        ("VDPA002", "error"),
        ("VDPA005", "note"),
    }
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        assert r["message"]["text"]
        [loc] = r["locations"]
        art = loc["physicalLocation"]["artifactLocation"]
        assert art["uriBaseId"] == "%SRCROOT%" and not art["uri"].startswith(("/", "file:"))
        assert loc["physicalLocation"]["region"]["startLine"] >= 1
        assert r["partialFingerprints"]["vdpaLintFinding/v1"]
    flow = next(r for r in results if r["ruleId"] == "VDPA001")["codeFlows"][0]["threadFlows"][0]["locations"]
    assert [s["location"]["physicalLocation"]["region"]["startLine"] for s in flow] == [30, 19, 14, 7]
    assert flow[-1]["location"]["message"]["text"] == "legacy_prune calls vhost_iotlb_del_range"


def test_fingerprints_survive_code_moving(tmp_path: Path) -> None:
    tree = tmp_path / "t"
    shutil.copytree(FIXTURES / "demo-kernel", tree, symlinks=False)
    before = {
        r["partialFingerprints"]["vdpaLintFinding/v1"]: r["locations"]
        for r in _sarif(tree)["runs"][0]["results"]
    }
    for name in ("legacy_mr.c", "legacy_main.c"):
        f = tree / "drivers" / "vdpa" / "legacy_vdpa" / name
        f.write_text("\n\n/* moved down */\n" + f.read_text())
    after = {
        r["partialFingerprints"]["vdpaLintFinding/v1"]: r["locations"]
        for r in _sarif(tree)["runs"][0]["results"]
    }
    assert set(before) == set(after)
    assert all(before[k] != after[k] for k in before)  # same findings, new lines
