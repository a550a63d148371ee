"""The HTML report: self-contained, escaped, and carrying the report's content."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

from conftest import FIXTURES, run_cli

HEADER = FIXTURES / "api" / "linux-6.7" / "include" / "linux" / "vdpa.h"
EVIL = '</textarea><script>alert("x")</script>\''


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _report(tree: Path, out: Path) -> str:
    proc = run_cli("report", str(tree), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    return out.read_text(encoding="utf-8")


def test_report_is_one_self_contained_file(tmp_path: Path) -> None:
    html = _report(FIXTURES / "demo-kernel", tmp_path / "r.html")
    p = _Tags()
    p.feed(html)
    assert "script" not in p.tags and "link" not in p.tags and "img" not in p.tags
    assert "style" in p.tags
    for name, value in p.attrs:
        assert not name.startswith("on"), name  # no event handlers: nothing needs script
        if name in ("href", "src"):
            assert value is not None and value.startswith("#"), (name, value)
    assert "http://" not in html and "https://" not in html
    assert len(html) < 100_000


def test_report_content(tmp_path: Path) -> None:
    html = _report(FIXTURES / "demo-kernel", tmp_path / "r.html")
    assert 'data-table="legacy_ops" data-verdict="violating"' in html
    assert 'data-table="good_ops" data-verdict="compliant"' in html
    assert "include/linux/vdpa.h: has .compat_reset" in html
    assert "Diverges at step 3" in html
    assert '<span class="hit"><i>7</i>	vhost_iotlb_del_range' not in html  # tabs are expanded
    assert '<span class="hit"><i>7</i>        vhost_iotlb_del_range(ld-&gt;iotlb, 0, ULLONG_MAX);' in html
    assert "drivers/vdpa/good_vdpa/good_main.c:46" in html  # each op with its function's location


def test_check_format_html_writes_the_same_report(tmp_path: Path) -> None:
    a = _report(FIXTURES / "demo-kernel", tmp_path / "a.html")
    proc = run_cli("check", "--format", "html", "-o", str(tmp_path / "b.html"), str(FIXTURES / "demo-kernel"))
    assert proc.returncode == 1
    b = (tmp_path / "b.html").read_text()
    strip = lambda s: "\n".join(line for line in s.splitlines() if "Duration" not in line)  # noqa: E731
    assert strip(a) == strip(b)


def test_nothing_from_the_tree_is_interpreted_as_markup(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "include" / "linux").mkdir(parents=True)
    shutil.copy(HEADER, tree / "include" / "linux" / "vdpa.h")
    drv = tree / "drivers" / "vdpa" / "x<script>alert('d')<script>\"q"
    drv.mkdir(parents=True)
    (drv / "evil<script>'\".c").write_text(f"""
struct vdpa_device;
/* {EVIL} */
static int evil_compat(struct vdpa_device *vdev, unsigned int flags)
{{
	if (strcmp(name(vdev), "{EVIL.replace('"', "")}") == 0)
		vhost_iotlb_reset(evil_iotlb(vdev)); /* {EVIL} */
	return 0;
}}
static int evil_reset(struct vdpa_device *vdev) {{ return evil_compat(vdev, 0); }}
static const struct vdpa_config_ops evil_ops = {{ .reset = evil_reset, .compat_reset = evil_compat }};
""")
    html = _report(tree, tmp_path / "r.html")
    p = _Tags()
    p.feed(html)
    assert "script" not in p.tags and "textarea" not in p.tags
    text = "".join(p.text)
    assert "x<script>alert('d')<script>\"q" in text  # shown as text, escaped in the source
    assert "</textarea><script>alert(x)</script>'" in text  # the guard in the trace
    assert "&lt;/textarea&gt;&lt;script&gt;" in html
    assert "<script>" not in html
