"""Fuzzing: corrupted copies of real drivers never give a traceback, a hang or invalid JSON.

Each case copies one parent driver (Debian's 6.12 drivers/vdpa when the kernel corpus is
cached, else the fixture trees) with its API headers, corrupts one file in one of the ways
real trees and bad patches do — truncation, random bytes, unbalanced braces or #if, a huge
line, an unterminated comment or string, NUL bytes, bytes that are not UTF-8, lines lost or
doubled — and runs `check --format json` in-process under a time bound. Seeded: a case id
(kind and number) reproduces it. The shapes the fuzzer found the analysis choking on follow,
as regression tests on a small driver of our own.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import FIXTURES, run_cli
from kernel_corpus import cached_tree

SEED = 20231021  # the day .compat_reset and .reset_map were posted
CASES_PER_KIND = 12  # 120 cases, about 8 s
SECONDS_PER_CASE = 30  # a clean run of one driver takes well under a second; a hang does not end
HEADERS = ("include/linux/vdpa.h", "include/linux/vhost_iotlb.h")
KERNEL_DRIVERS = ("vdpa_sim", "ifcvf", "vdpa_user", "pds", "virtio_pci", "solidrun")


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data))]


def _random_bytes(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 40)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def _random_tokens(rng: random.Random, data: bytes) -> bytes:
    """Valid UTF-8 noise made of C punctuation, so the parser (not the decoder) meets it."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 40)):
        at = rng.randrange(len(out))
        out[at:at] = rng.choice([b"{", b"}", b"(", b")", b";", b",", b"*", b"&&", b"#", b"\\", b"'", b"->"])
    return bytes(out)


def _unbalanced_braces(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    brace = rng.choice([b"{", b"}"])
    for _ in range(rng.randint(1, 6)):
        at = rng.randrange(len(out))
        out[at:at] = brace
    return bytes(out)


def _unbalanced_if(rng: random.Random, data: bytes) -> bytes:
    lines = data.split(b"\n")
    for _ in range(rng.randint(1, 5)):
        directive = rng.choice([b"#if CONFIG_FUZZ", b"#ifdef FUZZ", b"#else", b"#endif", b"#elif X > 1"])
        lines.insert(rng.randrange(len(lines) + 1), directive)
    return b"\n".join(lines)


def _huge_line(rng: random.Random, data: bytes) -> bytes:
    line = rng.choice(
        [
            b"int fuzz = " + b"1 + " * 200_000 + b"1;",
            b"int fuzz = " + b"(" * 20_000 + b"1" + b")" * 20_000 + b";",
            b'static const char *fuzz = "' + b"x" * 1_000_000 + b'";',
            b"{" * 50_000,
        ]
    )
    lines = data.split(b"\n")
    lines.insert(rng.randrange(len(lines) + 1), line)
    return b"\n".join(lines)


def _unterminated(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data))
    return data[:at] + rng.choice([b"/*", b'"', b"'", b"#define FUZZ(x) \\"]) + data[at:]


def _nul_bytes(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 10)):
        at = rng.randrange(len(out) + 1)
        out[at:at] = b"\0" * rng.randint(1, 3)
    return bytes(out)


def _not_utf8(rng: random.Random, data: bytes) -> bytes:
    """Latin-1 in comments and identifiers, lone continuation bytes, overlong and truncated
    sequences: what a mis-encoded patch leaves in a tree."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 10)):
        at = rng.randrange(len(out) + 1)
        out[at:at] = rng.choice([b"\xe9", b"\x80", b"\xc0\xaf", b"\xe2\x82", b"\xff\xfe", b"caf\xe9"])
    return bytes(out)


def _lines_lost_or_doubled(rng: random.Random, data: bytes) -> bytes:
    lines = data.split(b"\n")
    for _ in range(rng.randint(1, 30)):
        i = rng.randrange(len(lines))
        if rng.random() < 0.5:
            del lines[i]
        else:
            lines.insert(i, lines[i])
    return b"\n".join(lines)


MUTATIONS: dict[str, Callable[[random.Random, bytes], bytes]] = {
    "truncate": _truncate,
    "random-bytes": _random_bytes,
    "random-tokens": _random_tokens,
    "braces": _unbalanced_braces,
    "if": _unbalanced_if,
    "huge-line": _huge_line,
    "unterminated": _unterminated,
    "lines": _lines_lost_or_doubled,
    "nul": _nul_bytes,
    "not-utf8": _not_utf8,
}


def _sources() -> list[tuple[Path, str]]:
    """(tree, driver directory relative to it) to corrupt copies of."""
    kernel = cached_tree("6.12")
    if kernel is not None:
        return [
            (kernel, f"drivers/vdpa/{d}") for d in KERNEL_DRIVERS if (kernel / "drivers/vdpa" / d).is_dir()
        ]
    return [
        (tree, str(d.relative_to(tree)))
        for tree in sorted(FIXTURES.iterdir())
        if (tree / HEADERS[0]).is_file()
        for d in sorted((tree / "drivers" / "vdpa").iterdir())
        if d.is_dir()
    ]


class _Hang(BaseException):
    """Raised by the timer: BaseException, so no handler in vdpa-lint swallows it."""


@contextmanager
def _time_bound(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: object) -> None:
        raise _Hang(f"no answer in {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _case(kind: str, n: int, tmp_path: Path) -> tuple[Path, str]:
    rng = random.Random(f"{SEED}-{kind}-{n}")
    source, driver = rng.choice(_sources())
    tree = tmp_path / "tree"
    for header in HEADERS:
        if (source / header).is_file():
            (tree / header).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source / header, tree / header)
    shutil.copytree(source / driver, tree / driver)
    files = sorted(p for p in (tree / driver).rglob("*") if p.suffix in (".c", ".h") and p.stat().st_size)
    holding_table = [p for p in files if b"vdpa_config_ops" in p.read_bytes()]
    victim = rng.choice(holding_table) if holding_table and rng.random() < 0.6 else rng.choice(files)
    victim.write_bytes(MUTATIONS[kind](rng, victim.read_bytes()))
    return tree, f"{victim.relative_to(tree)} ({kind} #{n}, seed {SEED})"


@pytest.mark.parametrize("n", range(CASES_PER_KIND))
@pytest.mark.parametrize("kind", sorted(MUTATIONS))
def test_corrupted_driver(kind: str, n: int, tmp_path: Path) -> None:
    tree, what = _case(kind, n, tmp_path)
    with _time_bound(SECONDS_PER_CASE):
        proc = run_cli("check", "--format", "json", "--no-cache", str(tree))  # 1 on errors found
    assert "Traceback" not in proc.stdout + proc.stderr, what
    assert proc.returncode in (0, 1, 2), (what, proc.returncode)
    if proc.returncode == 2:  # could not run: one line saying why (no ops table left, say)
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("vdpa-lint: error: "), (
            what,
            proc.stderr,
        )
        assert proc.stdout == "", what
        return
    assert all(line.startswith("vdpa-lint: ") for line in proc.stderr.splitlines()), (what, proc.stderr)
    assert_spec_json(json.loads(proc.stdout), tree, what)


def assert_spec_json(data: dict, tree: Path, what: str) -> None:
    """The fields SPEC §4 promises, with their types, and paths that name files in the tree."""
    assert set(data) >= {"tool", "drivers", "findings", "errors", "unfollowed"}, what
    assert data["tool"]["name"] == "vdpa-lint" and isinstance(data["tool"]["version"], str), what
    for d in data["drivers"]:
        assert isinstance(d["driver"], str) and isinstance(d["ops_table"], str), (what, d)
        assert (tree / d["path"]).is_file() and d["line"] >= 1 and isinstance(d["ops"], dict), (what, d)
    for f in data["findings"]:
        assert f["rule_id"].startswith("VDPA") and f["severity"] in ("error", "warning", "note"), (what, f)
        assert (tree / f["path"]).is_file() and f["line"] >= 1 and f["column"] >= 1, (what, f)
        assert isinstance(f["message"], str) and isinstance(f["name"], str), (what, f)
        for step in f["trace"]:
            assert isinstance(step["function"], str) and step["line"] >= 1, (what, step)
    for e in data["errors"]:
        assert isinstance(e["path"], str) and isinstance(e["message"], str), (what, e)
    for u in data["unfollowed"]:
        assert {"ops_table", "path", "line", "callee", "why"} <= set(u), (what, u)


# -- shapes the fuzzer found the analysis choking on ----------------------------------------

_DRIVER = """#include <linux/vdpa.h>
#include <linux/vhost_iotlb.h>

struct fz_dev {
	struct vdpa_device vdpa;
	struct vhost_iotlb *iotlb;
};

#define to_fz(v) container_of(v, struct fz_dev, vdpa)

static int fz_reset(struct vdpa_device *vdev)
{
	struct fz_dev *d = to_fz(vdev);
	int y = 0;

%s
	if (y)
		vhost_iotlb_reset(d->iotlb);
	return 0;
}

static int fz_set_map(struct vdpa_device *vdev, unsigned int asid, struct vhost_iotlb *iotlb)
{
	struct fz_dev *d = to_fz(vdev);

	return vhost_iotlb_add_range(d->iotlb, 0, 0xfff, 0, 0);
}

static const struct vdpa_config_ops fz_ops = {
	.reset = fz_reset,
	.set_map = fz_set_map,
};
"""
_BODY_LINE = 16  # where %s starts
_CLEAR = "drivers/vdpa/fz/fz.c"


def _check_body(tmp_path: Path, body: str, tail: str = "", stderr: str = "") -> tuple[dict, int, int]:
    """check --format json on a one-driver tree whose .reset runs body, then clears the map
    when y is non-zero (tail after the ops table); returns the JSON, the line of that clear and
    the line of the ops table."""
    src = _DRIVER % body + tail
    driver = tmp_path / _CLEAR
    driver.parent.mkdir(parents=True)
    driver.write_text(src)
    with _time_bound(SECONDS_PER_CASE):
        proc = run_cli("check", "--format", "json", "--no-cache", "--fail-on", "never", str(tmp_path))
    assert proc.returncode == 0 and proc.stderr == stderr, proc.stderr
    lines = src.splitlines()
    clear = lines.index("\t\tvhost_iotlb_reset(d->iotlb);") + 1
    return json.loads(proc.stdout), clear, lines.index("static const struct vdpa_config_ops fz_ops = {") + 1


def _found(data: dict) -> list[tuple[str, int]]:
    return [(f["rule_id"], f["line"]) for f in data["findings"] if f["path"] == _CLEAR]


@pytest.mark.parametrize(
    "body",
    [
        "\ty = " + "(" * 5000 + "vdev->nvqs" + ")" * 5000 + ";",
        "\ty = " + "-" * 5000 + "vdev->nvqs;",
        "\ty = " + "f(" * 5000 + "vdev" + ")" * 5000 + ";",
        "\ty = vdev->nvqs" + " + 1" * 5000 + ";",
        "\t" + "{" * 5000 + "y = vdev->nvqs;" + "}" * 5000,
        "\t" + "if (vdev->nvqs) " * 5000 + "y = 1;",
    ],
    ids=["parens", "unary", "calls", "binary", "blocks", "ifs"],
)
def test_nesting_too_deep_is_a_gap_not_a_crash(
    body: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Nesting thousands deep overflowed Python's stack (RecursionError) in the graph builder:
    past MAX_NESTING the rest is a parse gap, reported as VDPA000 at its line."""
    data, _, table = _check_body(tmp_path, body)
    gaps = [f for f in data["findings"] if f["rule_id"] == "VDPA000"]
    assert [(f["line"], f["message"]) for f in gaps] == [
        (
            _BODY_LINE,
            f"fz_ops: fz_reset() could not be fully parsed at line {_BODY_LINE}, "
            "on the .reset path; calls in it may be missed",
        )
    ]
    if request.node.callspec.id in ("blocks", "ifs"):  # y = ... lies past the limit: y stays 0
        assert _found(data)[1:] == [("VDPA005", table)]
    else:  # y is what the unread expression gave: unknown, so the map may be cleared
        assert _found(data)[1:] == [("VDPA001", _BODY_LINE + 2), ("VDPA002", table), ("VDPA005", table)]


def test_nested_updates_take_linear_time(tmp_path: Path) -> None:
    """`-- -- -- x` evaluated its operand twice per level (once to read, once to store): 2^n
    steps, a hang at 100 levels. Nesting below MAX_NESTING, so no gap either."""
    data, clear, table = _check_body(tmp_path, "\ty = " + "--" * 70 + "vdev->nvqs;")
    assert _found(data) == [("VDPA001", clear), ("VDPA002", table), ("VDPA005", table)]


def test_long_condition_chains_fold_in_linear_time(tmp_path: Path) -> None:
    """fold() re-folded both sides of every && and || to learn their truth: 2^n steps on a
    chain of n conditions (30 s for 22)."""
    chain = " && ".join(f"vdev->nvqs > {i}" for i in range(60))
    data, clear, table = _check_body(
        tmp_path, f"\ty = {chain};\n\ty = y || vdev->nvqs || " + " || ".join(["y"] * 60) + ";"
    )
    assert _found(data) == [("VDPA001", clear), ("VDPA002", table), ("VDPA005", table)]


def test_value_built_statement_by_statement_is_widened(tmp_path: Path) -> None:
    """`y = y + x;` two thousand times built a value two thousand deep: RecursionError in fold.
    Widened to unknown past the size the merge of paths already keeps to, the clear is still
    found, under an unknown condition."""
    data, clear, table = _check_body(tmp_path, "\ty = y + vdev->nvqs;\n" * 2000)
    assert _found(data) == [("VDPA001", clear), ("VDPA002", table), ("VDPA005", table)]
    trace = next(f for f in data["findings"] if f["rule_id"] == "VDPA001")["trace"]
    assert trace[-1]["note"] == "fz_reset calls vhost_iotlb_reset when <y too complex>"


def test_many_error_siblings_parse_quickly(tmp_path: Path) -> None:
    """50,000 `{` on one line made tree-sitter's query cursor take seconds per query (quadratic
    in the error nodes under the root); the driver beside it is still read."""
    start = time.monotonic()
    data, clear, table = _check_body(
        tmp_path,
        "\ty = vdev->nvqs;",
        tail="{" * 50_000 + "\n",
        stderr="vdpa-lint: warning: drivers/vdpa/fz/fz.c: could not parse line 1 (outside any function analysed)\n",
    )
    assert time.monotonic() - start < 2.0  # 3.5 s before, 0.1 s after
    assert _found(data) == [("VDPA001", clear), ("VDPA002", table), ("VDPA005", table)]
