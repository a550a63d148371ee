"""The HTML reports: self-contained, escaped, ordered for a reviewer, linked, pictured."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import FIXTURES
from gitseries import commit, git, repo_from
from markupsafe import escape as html_escape

from analyzer.cli import main
from analyzer.engine import analyse
from analyzer.findings import Result, Unfollowed
from analyzer.formats.html import ReportContext, format_html
from analyzer.formats.links import SourceUrl
from analyzer.model import INITIAL, MET, UNKNOWN, USER_MAPS, Obligation, State, Step
from analyzer.rulebook import load_rules
from analyzer.treeinfo import TreeInfo, makefile_version

HEADER = FIXTURES / "api" / "linux-6.7" / "include" / "linux" / "vdpa.h"
DEMO = FIXTURES / "demo-kernel"
EVIL = '</textarea><script>alert("x")</script>\''
LEGACY_MR = "drivers/vdpa/legacy_vdpa/legacy_mr.c"
LEGACY_MAIN = "drivers/vdpa/legacy_vdpa/legacy_main.c"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.ids: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)
        self.ids += [v for k, v in attrs if k == "id" and v]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Tags:
    p = _Tags()
    p.feed(html)
    return p


def _report(tree: Path, out: Path, *extra: str) -> str:
    assert main(["report", str(tree), "-o", str(out), "--no-cache", *extra]) == 0
    return out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def demo_html(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _report(DEMO, tmp_path_factory.mktemp("r") / "r.html")


def test_report_is_one_self_contained_file(demo_html: str) -> None:
    p = _parse(demo_html)
    assert "script" not in p.tags and "link" not in p.tags and "img" not in p.tags
    assert "style" in p.tags and "svg" in p.tags
    for name, value in p.attrs:
        assert not name.startswith("on"), name  # no event handlers: nothing needs script
        if name in ("href", "src"):
            assert value is not None and value.startswith("#"), (name, value)
    assert "http://" not in demo_html and "https://" not in demo_html
    assert len(p.ids) == len(set(p.ids))  # ids are unique
    assert len(demo_html) < 150_000


def test_order_verdict_findings_matrix_details(demo_html: str) -> None:
    at = {
        name: demo_html.index(mark)
        for name, mark in (
            ("verdict", 'id="verdict"'),
            ("findings", 'id="findings"'),
            ("matrix", 'id="matrix"'),
            ("drivers", 'id="drivers"'),
            ("rules", 'id="rules"'),
        )
    }
    assert list(at) == sorted(at, key=at.__getitem__)
    assert "1 of 2 ops tables violate the contract · 2 errors, 0 warnings, 1 note<" in demo_html
    # most severe first, then by place: two errors, then the note
    found = re.findall(
        r'class="finding sev-(\w+)" id="[^"]+" data-rule="(\w+)" data-path="([^"]+)" data-line="(\d+)"',
        demo_html,
    )
    assert found == [
        ("error", "VDPA002", LEGACY_MAIN, "29"),
        ("error", "VDPA001", LEGACY_MR, "7"),
        ("note", "VDPA005", LEGACY_MAIN, "29"),
    ]
    # details collapsed, the ops table inside
    assert re.findall(r"<details class=\"driver\"[^>]*>", demo_html) == [
        '<details class="driver" id="t-good_ops" data-table="good_ops">',
        '<details class="driver" id="t-legacy_ops" data-table="legacy_ops">',
    ]
    assert demo_html.index('<table class="ops">') > demo_html.index('id="t-good_ops"')


def test_ids_are_stable_and_links_land(demo_html: str, tmp_path: Path) -> None:
    rules = load_rules()
    findings = analyse([str(DEMO)], rules, set(rules)).findings
    vdpa001 = next(f for f in findings if f.rule_id == "VDPA001")
    anchor = f"f-{vdpa001.fingerprint()[:12]}"
    assert f'id="{anchor}" data-rule="VDPA001"' in demo_html
    # the violated cell links to the finding that explains it
    cell = re.search(
        r'<td class="cell" data-obligation="maps-survive-reset" data-status="violated"[^>]*><a href="([^"]+)"',
        demo_html,
    )
    assert cell and cell.group(1) == f"#{anchor}"
    again = _report(DEMO, tmp_path / "again.html")
    assert _parse(again).ids == _parse(demo_html).ids  # the same ids on every run
    p = _parse(demo_html)
    targets = {v[1:] for k, v in p.attrs if k == "href" and v}
    assert targets <= set(p.ids), targets - set(p.ids)
    assert {"rule-VDPA001", "rule-VDPA005"} <= targets  # rule ids link to the rule's text
    rule_text = demo_html[demo_html.index('id="rule-VDPA001"') :][:4000]
    assert (
        html_escape(rules["VDPA001"].rationale) in rule_text
        and html_escape(rules["VDPA001"].fix) in rule_text
    )


def test_every_path_line_is_a_link(demo_html: str) -> None:
    assert '<span class="loc">' not in demo_html  # no location without a link
    # the finding's own line is the excerpt on its card; ops' functions have excerpts at the end
    assert re.search(
        r'<a class="loc" href="#(src-[0-9a-f]{8}-7)">drivers/vdpa/legacy_vdpa/legacy_mr.c:7:2</a>', demo_html
    )
    good = re.search(
        r'<a class="loc" href="#(src-[0-9a-f]{8}-46)" title="drivers/vdpa/good_vdpa/good_main.c:46">'
        r"good_main.c:46</a>",
        demo_html,
    )
    assert good
    excerpt = demo_html[demo_html.index(f'id="{good.group(1)}"') :][:2000]
    assert '<span class="hit"><i>46</i>' in excerpt


def test_snippets_expand_tabs(demo_html: str) -> None:
    assert '<span class="hit"><i>7</i>	vhost_iotlb_del_range' not in demo_html
    assert (
        '<span class="hit"><i>7</i>        vhost_iotlb_del_range(ld-&gt;iotlb, 0, ULLONG_MAX);' in demo_html
    )


def test_counts_and_severities_agree_with_findings(demo_html: str) -> None:
    assert "1 notes" not in demo_html and "1 errors" not in demo_html
    row = re.search(r'<tr data-rule="VDPA005">.*?</tr>', demo_html, re.S)
    assert row and 'status note">note<' in row.group(0) and "status warning" not in row.group(0)
    row = re.search(r'<tr data-rule="VDPA004">.*?</tr>', demo_html, re.S)
    assert row and 'status warning">warning<' in row.group(0)  # no finding: the rule's own severity


def test_replay_is_a_picture(demo_html: str) -> None:
    legacy = demo_html[demo_html.index('id="t-legacy_ops-maps-survive-reset"') :]
    svg = legacy[legacy.index("<svg") : legacy.index("</svg>")]
    assert 'viewBox="0 0 ' in svg and 'width="100%"' in svg
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    # time axis, both ASIDs and the group, labelled so the picture reads without colour
    assert texts[:5] == ["start", "1", "2", "3", "✗ diverges"]
    assert {"ASID 0", "ASID 1", "desc group", "parent", "driver", "user maps", "≠ empty"} <= set(texts)
    assert 'class="mark"' in svg  # the first divergence
    assert "<li>userspace maps guest memory in ASID 0 (.set_map/.dma_map)</li>" in legacy


def test_tree_version_git_and_source_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = tmp_path / "linux"
    shutil.copytree(DEMO, tree, symlinks=False)
    (tree / "Makefile").write_text(
        "# SPDX\nVERSION = 6\nPATCHLEVEL = 7\nSUBLEVEL = 0\nEXTRAVERSION = -rc2\nNAME = x\n"
    )
    elixir = "https://elixir.bootlin.com/linux/v{version}/source/{path}#L{line}"
    html = _report(tree, tmp_path / "e.html", "--source-url", elixir)
    assert "<small>Linux 6.7-rc2</small>" in html
    assert f'href="https://elixir.bootlin.com/linux/v6.7-rc2/source/{LEGACY_MR}#L7"' in html
    # {rev} needs a git work tree
    assert (
        main(
            ["report", str(tree), "-o", str(tmp_path / "x.html"), "--source-url", "https://h/{path}?h={rev}"]
        )
        == 2
    )
    assert (
        capsys.readouterr().err
        == f"vdpa-lint: error: --source-url uses {{rev}} but {tree} is not a git work tree\n"
    )
    assert not (tmp_path / "x.html").exists()
    git(tree, "init", "-q")
    git(tree, "add", "-A")
    git(tree, "commit", "-q", "-m", "base")
    git(tree, "tag", "v6.7-rc2")
    sha = git(tree, "rev-parse", "HEAD").strip()
    html = _report(
        tree, tmp_path / "g.html", "--source-url", "https://git.example/tree/{path}?h={rev}#n{line}"
    )
    assert f"<small>Linux 6.7-rc2 (v6.7-rc2, {sha[:12]})</small>" in html
    assert f'href="https://git.example/tree/{LEGACY_MR}?h={sha}#n7"' in html
    assert f'<dd class="mono">{sha}</dd>' in html


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("https://h/{path}#{lineno}", "unknown field {lineno} (known: {path} {line} {rev} {version})"),
        ("https://h/{path!r}", "unknown field {path}"),
        ("javascript:alert(1)//{path}", "not an http:// or https:// URL"),
        ("https://h/{line}", "has no {path}"),
        ("https://h/{path", "expected '}' before end of string"),
    ],
)
def test_bad_source_url_is_one_line_exit_2(
    template: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for cmd in (
        ["report", str(DEMO), "-o", str(tmp_path / "r.html")],
        ["check", str(DEMO)],
        ["gate", "--repo", str(tmp_path), "--base", "HEAD"],
    ):
        assert main([*cmd, "--source-url", template]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"vdpa-lint: error: --source-url {template!r}: {message}"), err
        assert err.count("\n") == 1
    assert not (tmp_path / "r.html").exists()


def test_makefile_version() -> None:
    assert makefile_version("VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 117\nEXTRAVERSION =\n") == "6.12.117"
    assert makefile_version("VERSION = 6\nPATCHLEVEL = 13\nSUBLEVEL = 0\nEXTRAVERSION = -rc3\n") == "6.13-rc3"
    assert makefile_version("all:\n\tcc x.c\n") is None


def test_check_format_html_writes_the_same_report(demo_html: str, tmp_path: Path) -> None:
    assert main(["check", "--format", "html", "-o", str(tmp_path / "b.html"), "--no-cache", str(DEMO)]) == 1
    b = (tmp_path / "b.html").read_text()
    strip = lambda s: re.sub(r"parsed in [\d.]+ s", "", s)  # noqa: E731
    assert strip(demo_html) == strip(b)


def _evil_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    (tree / "include" / "linux").mkdir(parents=True)
    shutil.copy(HEADER, tree / "include" / "linux" / "vdpa.h")
    drv = tree / "drivers" / "vdpa" / "x<script>alert('d')<script>\"q"
    drv.mkdir(parents=True)
    (drv / "evil<script>'\"&.c").write_text(f"""
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
    return tree


def test_nothing_from_the_tree_is_interpreted_as_markup(tmp_path: Path) -> None:
    html = _report(_evil_tree(tmp_path), tmp_path / "r.html")
    p = _parse(html)
    assert "script" not in p.tags and "textarea" not in p.tags
    text = "".join(p.text)
    assert "x<script>alert('d')<script>\"q" in text  # shown as text, escaped in the source
    assert "</textarea><script>alert(x)</script>'" in text  # the guard in the trace
    assert "&lt;/textarea&gt;&lt;script&gt;" in html
    assert "<script>" not in html


def test_urls_built_from_the_template_are_escaped(tmp_path: Path) -> None:
    tree = _evil_tree(tmp_path)
    (tree / "Makefile").write_text('VERSION = 6\nPATCHLEVEL = 7\nEXTRAVERSION = -"><script>\n')
    html = _report(tree, tmp_path / "r.html", "--source-url", "https://h/{version}/{path}#L{line}")
    hrefs = [v for k, v in _parse(html).attrs if k == "href" and v and v.startswith("https:")]
    assert hrefs
    evil_dir = "drivers/vdpa/x%3Cscript%3Ealert%28%27d%27%29%3Cscript%3E%22q/evil%3Cscript%3E%27%22%26.c"
    assert f"https://h/6.7-%22%3E%3Cscript%3E/{evil_dir}#L7" in hrefs
    for h in hrefs:
        assert re.fullmatch(r"https://h/[A-Za-z0-9%._/-]+#L\d+", h), h
    assert "<script>" not in html


def _result_with(obligation: Obligation, **fields: object) -> tuple[Result, dict]:
    rules = load_rules()
    result = analyse([str(DEMO)], rules, set(rules))
    good = result.drivers[0]
    assert good.table.name == "good_ops"

    grown = good._replace(obligations=(obligation, *good.obligations[1:]), **fields)
    return result._replace(drivers=(grown, *result.drivers[1:])), rules


def test_any_state_is_drawn_escaped_and_labelled() -> None:
    odd = "<b>partly</b> & restored"
    steps = (
        Step(
            "userspace <maps>", "", "", False, State((USER_MAPS, INITIAL), 0), State((USER_MAPS, INITIAL), 0)
        ),
        Step("reset", "", "", True, State((USER_MAPS, INITIAL), 0), State((odd, UNKNOWN), None)),
    )
    result, rules = _result_with(Obligation("maps-survive-reset", "t", "violated", "", steps, 2, "seen"))
    html = format_html(result, rules)
    svg = html[html.index('id="t-good_ops-maps-survive-reset"') :]
    svg = svg[svg.index("<svg") : svg.index("</svg>")]
    assert "≠ &lt;b&gt;partly&lt;/b&gt; &amp; …</text>" in svg  # any state: its own label, escaped
    assert "<title>ASID 0, driver: &lt;b&gt;partly&lt;/b&gt; &amp; restored</title>" in svg  # in full
    assert '<rect class="c s-other d"' in svg  # and a pattern, so it reads without colour
    assert "≠ unknown</text>" in svg and '<rect class="c s-unknown d"' in svg
    assert ".s-other { fill: url(#pat-other); }" in html and '<pattern id="pat-other"' in html
    assert "<b>partly" not in html and "<li>userspace &lt;maps&gt;</li>" in html


def test_met_where_states_differ_says_why(tmp_path: Path) -> None:
    steps = (
        Step("map", "", "", False, State((USER_MAPS, INITIAL), 0), State((USER_MAPS, INITIAL), 0)),
        Step("reset", "", "", False, State((USER_MAPS, INITIAL), 0), State((USER_MAPS, "empty"), 0)),
    )
    result, rules = _result_with(Obligation("maps-survive-reset", "t", MET, "", steps))
    html = format_html(result, rules)
    cell = re.search(
        r'<td class="cell" data-obligation="maps-survive-reset" data-status="met" data-differs="1"'
        r' title="([^"]+)"',
        html,
    )
    assert (
        cell
        and "After step 2, ASID 1 is empty where the compliant parent has initial 1:1 passthrough"
        in cell.group(1)
    )
    assert "This obligation asks only whether ASID 0 still holds the upper layer&#39;s maps" in cell.group(1)
    assert "Met, although the states differ: After step 2" in html


def test_unfollowed_calls_and_undecided_verdict_are_shown() -> None:
    o = Obligation("maps-survive-reset", "t", "unknown", "an op could not be decided")
    result, rules = _result_with(
        o,
        unfollowed=(Unfollowed("reset", LEGACY_MR, 7, "ops->clear", "pointer without a <target>"),),
        verdict="undecided",
    )
    html = format_html(result, rules, ReportContext(TreeInfo("/t"), SourceUrl("https://h/{path}#{line}")))
    assert 'data-table="good_ops" data-verdict="undecided"' in html
    assert "1 call not followed" in html
    assert (
        f'<a class="loc" href="https://h/{LEGACY_MR}#7">{LEGACY_MR}:7</a> .reset: ops-&gt;clear: pointer without a &lt;target&gt;'
        in html
    )
    assert re.search(r'data-status="unknown"[^>]*><a href="#t-good_ops-maps-survive-reset">', html)


# --- the gate's report ---------------------------------------------------------------------

NEW = "drivers/vdpa/new_vdpa/new_main.c"
NEW_DRIVER = """// SPDX-License-Identifier: GPL-2.0
#include <linux/vdpa.h>

struct new_dev { struct vdpa_device vdpa; struct vhost_iotlb *iotlb; u8 status; };

static void new_stop(struct new_dev *n)
{
	n->status = 0;
}

static int new_reset(struct vdpa_device *vdev)
{
	new_stop(container_of(vdev, struct new_dev, vdpa));
	return 0;
}

static int new_set_map(struct vdpa_device *vdev, unsigned int asid, struct vhost_iotlb *iotlb)
{
	struct new_dev *n = container_of(vdev, struct new_dev, vdpa);
	struct vhost_iotlb_map *map;

	for (map = vhost_iotlb_itree_first(iotlb, 0, ULLONG_MAX); map; map = vhost_iotlb_itree_next(map, 0, ULLONG_MAX))
		vhost_iotlb_add_range(n->iotlb, map->start, map->last, map->addr, map->perm);
	return 0;
}

static const struct vdpa_config_ops new_ops = {
	.reset = new_reset,
	.set_map = new_set_map,
};
"""
CLEAR = ("\tn->status = 0;", "\tn->status = 0;\n\tvhost_iotlb_reset(n->iotlb);")
GOOD = "drivers/vdpa/good_vdpa/good_main.c"


def _line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def demo_series(tmp_path: Path) -> tuple[Path, str]:
    """The demo tree and three patches: a parent added (compliant), then made to clear maps in
    reset (VDPA001, VDPA002), then good_vdpa's .compat_reset dropped (VDPA009)."""
    repo = repo_from(DEMO, tmp_path / "repo")
    base = git(repo, "rev-parse", "HEAD").strip()
    commit(repo, "new_vdpa: add a parent", {NEW: NEW_DRIVER})
    commit(repo, "new_vdpa: drop maps on reset", {NEW: CLEAR})
    commit(
        repo,
        "good_vdpa: drop compat_reset",
        {GOOD: ("\t.compat_reset = good_compat_reset, /* ok: VDPA004 */\n", "")},
    )
    return repo, base


def test_gate_report(tmp_path: Path) -> None:
    repo, base = demo_series(tmp_path)
    commit(
        repo,
        "new_vdpa: a comment on top",
        {NEW: ("#include <linux/vdpa.h>\n", "#include <linux/vdpa.h>\n/*\n * x\n */\n")},
    )
    out = tmp_path / "series.html"
    assert (
        main(["gate", "--repo", str(repo), "--base", base, "--format", "html", "-o", str(out), "--no-cache"])
        == 1
    )
    html = out.read_text()
    p = _parse(html)
    assert "script" not in p.tags and len(p.ids) == len(set(p.ids))
    assert {v[1:] for k, v in p.attrs if k == "href" and v} <= set(p.ids)
    assert (
        html.index('id="verdict" data-verdict="fail"')
        < html.index('id="patches"')
        < html.index('id="matrix"')
    )
    assert "4 patches: 4 findings introduced, 0 fixed · first fail at" in html
    patches = re.findall(
        r'<section class="patch" id="patch-(\d)" data-verdict="(\w+)">\s*<h3>.*?\] ([^<]+)</h3>', html
    )
    assert patches == [
        ("1", "success", "new_vdpa: add a parent"),  # a note (VDPA005) does not fail
        ("2", "fail", "new_vdpa: drop maps on reset"),
        ("3", "fail", "good_vdpa: drop compat_reset"),
        ("4", "success", "new_vdpa: a comment on top"),
    ]
    p2 = html[html.index('id="patch-2"') : html.index('id="patch-3"')]
    assert sorted(re.findall(r'data-rule="(\w+)" data-path="([^"]+)" data-line="(\d+)"', p2)) == [
        ("VDPA001", NEW, "9"),
        ("VDPA002", NEW, str(_line_of(NEW_DRIVER.replace(*CLEAR), "new_ops = {"))),
    ]
    # the excerpt is the code as patch 2 left it (patch 4 moves it down by 3 lines)
    assert '<span class="hit"><i>9</i>        vhost_iotlb_reset(n-&gt;iotlb);' in p2
    sha2 = git(repo, "rev-parse", "HEAD~2").strip()
    assert f'<span class="mono">{sha2}</span>' in p2
    # before/after: the changed cells are marked, and say base -> head
    row = re.search(r'<tr data-driver="good_vdpa" data-table="good_ops".*?</tr>', html, re.S)
    assert row and re.search(
        r'class="cell changed" data-obligation="old-userspace-reset" data-status="not applicable"'
        r' data-before="met">',
        row.group(0),
    )
    new_row = re.search(
        r'<tr data-driver="new_vdpa" data-table="new_ops" data-verdict="violating" data-before="absent"'
        r' class="changed">',
        html,
    )
    assert new_row
    legacy = re.search(r'<tr data-driver="legacy_vdpa" data-table="legacy_ops"[^>]*>', html)
    assert legacy and "changed" not in legacy.group(0)
    # with --source-url, each patch's findings link to that patch's commit
    template = "https://git.example/tree/{path}?h={rev}#n{line}"
    args = ["gate", "--repo", str(repo), "--base", base, "--format", "html", "-o", str(out), "--no-cache"]
    assert main([*args, "--source-url", template]) == 1
    html = out.read_text()
    p2 = html[html.index('id="patch-2"') : html.index('id="patch-3"')]
    assert f'<a class="loc" href="https://git.example/tree/{NEW}?h={sha2}#n9">{NEW}:9:2</a>' in p2
    legacy_at_base = f'href="https://git.example/tree/{LEGACY_MR}?h={base}#n7"'
    assert legacy_at_base in html[html.index('id="base"') :]
    assert main([*args, "--head-only"]) == 1
    assert "4 patches judged as a whole: 4 findings introduced, 0 fixed</p>" in out.read_text()


def test_gate_report_of_a_mailed_series(tmp_path: Path) -> None:
    repo, base = demo_series(tmp_path)
    series = tmp_path / "series"
    series.mkdir()
    git(repo, "format-patch", "-q", "--thread", "-o", str(series), f"{base}..HEAD")
    patches = sorted(series.iterdir())
    ids = [re.search(r"^Message-ID: (<[^>]+>)", p.read_text(), re.M | re.I).group(1) for p in patches]  # type: ignore[union-attr]
    out = tmp_path / "s.html"
    elixir = "https://elixir.example/{version}/{path}#L{line}"
    argv = ["gate", "--tree", str(DEMO), *map(str, patches), "--format", "html", "-o", str(out), "--no-cache"]
    assert main([*argv, "--source-url", elixir]) == 2  # the demo tree has no Makefile: no {version}
    assert main(argv) == 1
    html = out.read_text()
    for mid in ids:
        assert f'Message-Id <span class="mono">{mid.replace("<", "&lt;").replace(">", "&gt;")}</span>' in html


@pytest.mark.kernel
def test_whole_tree_report_is_one_small_file(tmp_path: Path) -> None:
    """Debian's whole 6.12 tree: one file under 1 MB, saying which kernel it describes."""
    from kernel_corpus import kernel_tree

    out = tmp_path / "linux.html"
    assert main(["report", str(kernel_tree("6.12", full=True)), "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert len(html.encode()) <= 1_000_000
    assert "<small>Linux 6.12." in html
    assert 'id="verdict" data-verdict="compliant"' in html
    assert [p.name for p in tmp_path.iterdir()] == ["linux.html"]  # written atomically: no leftovers


def test_replay_without_states_is_a_table() -> None:
    """Steps from a model that does not give states as values still show, as text."""
    steps = (Step("map <0>", "ASID 0: maps", "ASID 0: maps", False), Step("reset", "kept", "<gone>", True))
    result, rules = _result_with(Obligation("maps-survive-reset", "t", "violated", "", steps, 2, "seen"))
    html = format_html(result, rules)
    replay = html[html.index('id="t-good_ops-maps-survive-reset"') :]
    replay = replay[: replay.index("</div>")]
    assert "<svg" not in replay
    assert '<tr class="diverge"><td>2</td><td>reset</td><td>kept</td><td>≠ &lt;gone&gt;</td></tr>' in replay


def test_gate_report_of_a_series_that_stops(tmp_path: Path) -> None:
    """A cover letter is listed as not applied; a patch that does not apply ends the report."""
    repo, base = demo_series(tmp_path)
    series = tmp_path / "series"
    git(repo, "format-patch", "-q", "--cover-letter", "-o", str(series), f"{base}..HEAD")
    tree = tmp_path / "tree"
    shutil.copytree(DEMO, tree, symlinks=False)
    good = tree / GOOD
    good.write_text(
        good.read_text().replace("\t.compat_reset = good_compat_reset,", "\t.compat_reset = other,")
    )
    out = tmp_path / "s.html"
    patches = sorted(map(str, series.iterdir()))
    assert (
        main(["gate", "--tree", str(tree), *patches, "--format", "html", "-o", str(out), "--no-cache"]) == 2
    )
    html = out.read_text()
    assert re.findall(r'<section class="patch" id="([\w-]+)" data-verdict="(\w+)">', html) == [
        ("patch-1", "success"),
        ("patch-2", "fail"),
        ("not-applied", "fail"),
    ]
    assert "[3/3] good_vdpa: drop compat_reset</h3>" in html and "Does not apply: <span" in html
    assert re.search(r"Not applied: \[0/3\] [^<]*\(cover letter", html)
