"""The HTML report in a real browser: headless Chromium (Debian's package, installed by
scripts/install-test-deps) renders it; the assertions read the DOM Chromium produced, and a
screenshot of each report is kept in test-artifacts/. (That the page needs no script is
asserted in test_html.py: it has none.)"""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO, run_cli
from kernel_corpus import kernel_tree

ARTIFACTS = REPO / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def _chromium(profile: Path, *args: str) -> str:
    exe = shutil.which("chromium")
    assert exe, "chromium is missing: scripts/install-test-deps installs it"
    proc = subprocess.run(
        [exe, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


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


def _render(name: str, tree: Path, tmp_path: Path) -> dict[str, tuple[str, dict[str, str]]]:
    report = tmp_path / f"{name}.html"
    proc = run_cli("report", str(tree), "-o", str(report))
    assert proc.returncode == 0, proc.stderr
    dom = _chromium(tmp_path / "profile", "--dump-dom", report.as_uri())
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"report-{name}.png"
    _chromium(tmp_path / "profile", "--window-size=1280,1600", f"--screenshot={shot}", report.as_uri())
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    p = _Matrix()
    p.feed(dom)
    assert "Drivers and obligations" in dom
    return p.rows


def test_fixture_report_in_browser(tmp_path: Path) -> None:
    rows = _render("fixture", FIXTURES / "demo-kernel", tmp_path)
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


@pytest.mark.kernel
def test_linux_61_report_in_browser(tmp_path: Path) -> None:
    rows = _render("linux-6.1", kernel_tree("6.1"), tmp_path)
    for table in ("mlx5_vdpa_ops", "vdpasim_config_ops", "vdpasim_batch_config_ops"):
        assert rows[table][0] == "violating"
        assert rows[table][1]["maps-survive-reset"] == "violated"
    assert {t for t, (v, _) in rows.items() if v == "violating"} == {
        "mlx5_vdpa_ops",
        "vdpasim_config_ops",
        "vdpasim_batch_config_ops",
    }


@pytest.mark.kernel
def test_linux_612_report_in_browser(tmp_path: Path) -> None:
    rows = _render("linux-6.12", kernel_tree("6.12"), tmp_path)
    assert len(rows) == 10
    assert {v for v, _ in rows.values()} == {"compliant"}
    assert rows["mlx5_vdpa_ops"][1]["old-userspace-reset"] == "met"
    assert rows["vdpasim_config_ops"][1]["release-then-reuse"] == "met"
