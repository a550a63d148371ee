"""The HTML reports in a real browser: headless Chromium (Debian's package, installed by
scripts/install-test-deps, driven over the DevTools protocol by tests/chromium.py) renders them
at 1400 and 800 px; the assertions read the DOM and the layout Chromium produced, and screenshots
are kept in test-artifacts/ (first screen at each width, whole page at 1400). The reports have no
script (test_html.py asserts it): the measuring script comes through the protocol."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from chromium import Browser
from conftest import FIXTURES, REPO, run_cli
from kernel_corpus import kernel_tree
from test_html import demo_series

ARTIFACTS = REPO / "test-artifacts"
WIDTHS = (1400, 800)
SCREEN_HEIGHT = 900

# Reads the layout of the page Chromium rendered (run through the protocol: the page has no script).
MEASURE = """(function () {
  function top(sel) { var e = document.querySelector(sel); return e ? e.getBoundingClientRect().top : null; }
  function target(href) { return document.getElementById(decodeURIComponent(href.slice(1))); }
  var broken = [];
  document.querySelectorAll('a[href^="#"]').forEach(function (a) {
    if (!target(a.getAttribute('href'))) broken.push(a.getAttribute('href'));
  });
  var cells = [];
  document.querySelectorAll('td[data-status="violated"], td[data-status="unknown"]').forEach(function (td) {
    var a = td.querySelector('a'), t = a ? target(a.getAttribute('href')) : null;
    cells.push({table: td.closest('tr').dataset.table, obligation: td.dataset.obligation,
                href: a ? a.getAttribute('href') : null, target: t ? t.className : null});
  });
  var findings = Array.prototype.map.call(document.querySelectorAll('.finding'),
    function (f) { var r = f.getBoundingClientRect(); return {id: f.id, top: r.top, bottom: r.bottom}; });
  var wide = Array.prototype.filter.call(document.querySelectorAll('main *'), function (e) {
    return e.getBoundingClientRect().right > innerWidth + 0.5 && !e.closest('.scroll, pre');
  }).map(function (e) { return e.tagName + '.' + e.className; });
  var scrolled = Array.prototype.filter.call(document.querySelectorAll('.scroll'), function (e) {
    return e.scrollWidth > e.clientWidth; }).map(function (e) { return e.firstElementChild.id; });
  return {width: innerWidth, scrolled: scrolled, scrollWidth: document.documentElement.scrollWidth,
          height: document.documentElement.scrollHeight, findings: findings, broken: broken, cells: cells,
          wide: wide.slice(0, 5), top: {findings: top('#findings'), patches: top('#patches'),
          matrix: top('#matrix'), drivers: top('#drivers')}};
})()"""


class _Matrix(HTMLParser):
    """Rows of the obligation matrix: table name -> (verdict, {obligation: status})."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, tuple[str, dict[str, str]]] = {}
        self._row: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and a.get("data-table"):
            self._row = a["data-table"]
            self.rows[self._row] = (a.get("data-verdict") or "", {})
        elif tag == "td" and self._row and a.get("data-obligation"):
            self.rows[self._row][1][a["data-obligation"] or ""] = a.get("data-status") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None


def _look(name: str, report: Path, tmp_path: Path) -> tuple[dict[int, dict[str, Any]], str]:
    """Measure the report at each width and keep screenshots; returns (measures, DOM at 1400)."""
    ARTIFACTS.mkdir(exist_ok=True)
    browser = Browser(tmp_path / "profile")
    measured, dom = {}, ""
    try:
        for width in WIDTHS:
            browser.open(report.as_uri(), width, SCREEN_HEIGHT)
            measured[width] = browser.evaluate(MEASURE)
            dom = dom or browser.evaluate("document.documentElement.outerHTML")
            shots = [("", SCREEN_HEIGHT)]
            if width == WIDTHS[0]:  # the whole page once; the first screen at every width
                shots.append(("-full", min(measured[width]["height"], 16000)))
            for suffix, height in shots:
                shot = ARTIFACTS / f"{name}-{width}{suffix}.png"
                browser.screenshot(shot, width, height)
                assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    finally:
        browser.close()
    return measured, dom


def _check_layout(measured: dict[int, dict[str, Any]], first: str = "findings") -> None:
    for width, m in measured.items():
        assert m["width"] == width
        assert m["scrollWidth"] <= width, (width, m["wide"])  # no horizontal overflow
        assert m["wide"] == [], (width, m["wide"])
        assert m["scrolled"] == [], (width, m["scrolled"])  # the tables fit too, at 800 px
        assert m["broken"] == [], (width, m["broken"])  # every in-page link lands somewhere
        assert m["top"][first] < m["top"]["matrix"] < (m["top"]["drivers"] or m["top"]["matrix"] + 1)
        for cell in m["cells"]:  # each violated or unknown cell explains itself
            assert cell["href"] and cell["target"], cell
            if first == "findings":
                assert m["findings"] == [] or m["findings"][-1]["top"] < m["top"]["matrix"]


def _render(name: str, tree: Path, tmp_path: Path) -> tuple[dict[str, tuple[str, dict[str, str]]], dict]:
    report = tmp_path / f"{name}.html"
    proc = run_cli("report", str(tree), "-o", str(report))
    assert proc.returncode == 0, proc.stderr
    measured, dom = _look(f"report-{name}", report, tmp_path)
    _check_layout(measured)
    p = _Matrix()
    p.feed(dom)
    return p.rows, measured


def test_fixture_report_in_browser(tmp_path: Path) -> None:
    rows, measured = _render("fixture", FIXTURES / "demo-kernel", tmp_path)
    assert rows["legacy_ops"][0] == "violating"
    assert rows["legacy_ops"][1]["maps-survive-reset"] == "violated"
    assert rows["good_ops"] == (
        "compliant",
        {
            "maps-survive-reset": "met",
            "old-userspace-reset": "met",
            "release-then-reuse": "met",
            "release-one-asid": "met",
            "desc-group-asid-reset": "met",
            "dma-map-unmap": "not applicable",
        },
    )
    [cell] = measured[1400]["cells"]
    assert (cell["table"], cell["obligation"], cell["target"]) == (
        "legacy_ops",
        "maps-survive-reset",
        "finding sev-error",
    )
    # the most severe first: two errors, then the note
    assert [f["id"][:2] for f in measured[1400]["findings"]] == ["f-"] * 3
    assert measured[1400]["findings"][2]["bottom"] <= SCREEN_HEIGHT  # three findings in the first screen
    # an excerpt appears when a link points at it (the appendix stays out of the way otherwise)
    html = (tmp_path / "fixture.html").read_text()
    excerpt = re.search(r'href="#(src-[0-9a-f]{8}-\d+)" title="drivers/vdpa/good_vdpa/', html)
    assert excerpt
    browser = Browser(tmp_path / "profile")
    try:
        shown = "(function (e) { return [e.getBoundingClientRect().height, e.getBoundingClientRect().top]; })"
        browser.open((tmp_path / "fixture.html").as_uri(), 800, SCREEN_HEIGHT)
        assert browser.evaluate(f"{shown}(document.getElementById('{excerpt.group(1)}'))")[0] == 0
        browser.open(f"{(tmp_path / 'fixture.html').as_uri()}#{excerpt.group(1)}", 800, SCREEN_HEIGHT)
        height, top = browser.evaluate(f"{shown}(document.getElementById('{excerpt.group(1)}'))")
        assert height > 60 and 0 <= top < SCREEN_HEIGHT  # shown, and scrolled to
    finally:
        browser.close()


@pytest.mark.kernel
def test_linux_61_report_in_browser(tmp_path: Path) -> None:
    rows, measured = _render("linux-6.1", kernel_tree("6.1"), tmp_path)
    violating = {"mlx5_vdpa_ops", "vdpasim_config_ops", "vdpasim_batch_config_ops"}
    for table in violating:
        assert rows[table][0] == "violating"
        assert rows[table][1]["maps-survive-reset"] == "violated"
    assert {t for t, (v, _) in rows.items() if v == "violating"} == violating
    first = measured[1400]["findings"]
    assert len(first) == 3 and first[2]["bottom"] <= SCREEN_HEIGHT  # all three in the first screen
    assert {(c["table"], c["target"]) for c in measured[800]["cells"]} == {
        (t, "finding sev-error") for t in violating
    }


@pytest.mark.kernel
def test_linux_612_report_in_browser(tmp_path: Path) -> None:
    rows, _ = _render("linux-6.12", kernel_tree("6.12"), tmp_path)
    assert len(rows) == 10
    assert {v for v, _ in rows.values()} == {"compliant"}
    assert rows["mlx5_vdpa_ops"][1]["old-userspace-reset"] == "met"
    assert rows["vdpasim_config_ops"][1]["release-then-reuse"] == "met"


def test_gate_report_in_browser(tmp_path: Path) -> None:
    repo, base = demo_series(tmp_path)
    report = tmp_path / "series.html"
    proc = run_cli("gate", "--repo", str(repo), "--base", base, "--format", "html", "-o", str(report))
    assert proc.returncode == 1, proc.stderr
    measured, dom = _look("gate-fixture", report, tmp_path)
    _check_layout(measured, first="patches")
    p = _Matrix()
    p.feed(dom)
    assert p.rows["new_ops"] == ("violating", {**p.rows["new_ops"][1], "maps-survive-reset": "violated"})
    cells = {(c["table"], c["obligation"]): c["href"] for c in measured[800]["cells"]}
    assert cells[("new_ops", "maps-survive-reset")].startswith("#p2-")  # the patch that broke it
    assert cells[("legacy_ops", "maps-survive-reset")].startswith("#base-")  # already there
