"""The rule files parsed at build time give what parsing them at run time gives, and only for
the bytes they were made from."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from analyzer import tomldata
from analyzer.rulebook import RuleFileError, load_rules
from analyzer.semantics.kb import load_knowledge

RULES = Path(__file__).resolve().parent.parent / "rules"


@pytest.fixture
def bundled(tmp_path: Path) -> Path:
    """A copy of rules/ with its bundle, as a wheel installs it."""
    directory = tmp_path / "_rules"
    shutil.copytree(RULES, directory)
    (directory / tomldata.BUNDLE).write_bytes(tomldata.bundle(directory))
    return directory


def test_every_file_reads_as_its_toml(bundled: Path) -> None:
    files = sorted(bundled.glob("*.toml"))
    assert len(files) >= 13
    for path in files:
        assert tomldata.load(path) == tomllib.loads(path.read_text(encoding="utf-8")), path.name
    assert load_rules(bundled) == load_rules(RULES)
    assert load_knowledge(bundled / "primitives.toml") == load_knowledge(RULES / "primitives.toml")


def test_each_caller_gets_its_own_copy(bundled: Path) -> None:
    path = bundled / "primitives.toml"
    first = tomldata.load(path)
    first.clear()
    assert tomldata.load(path) == tomllib.loads(path.read_text(encoding="utf-8"))


def test_an_edited_file_is_read_from_its_bytes(bundled: Path) -> None:
    path = bundled / "VDPA001-reset-clears-map.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('severity = "error"', 'severity = "warning"', 1), encoding="utf-8")
    assert load_rules(bundled)["VDPA001"].severity == "warning"
    path.write_text(text + "\nthis is = = not toml\n", encoding="utf-8")
    with pytest.raises(RuleFileError, match=r"^VDPA001-reset-clears-map\.toml: "):
        load_rules(bundled)


def test_a_damaged_or_foreign_bundle_is_ignored(bundled: Path) -> None:
    for junk in (b"", b"\x00not marshal", tomldata.bundle(bundled)[:-7]):
        (bundled / tomldata.BUNDLE).write_bytes(junk)
        tomldata._entries.cache_clear()
        assert load_rules(bundled) == load_rules(RULES)
    tomldata._entries.cache_clear()


def test_a_damaged_entry_in_a_sound_bundle_is_read_from_the_file(tmp_path: Path) -> None:
    import marshal
    import zlib

    path = tmp_path / "good.toml"
    path.write_text('a = "b"\n', encoding="utf-8")
    data = path.read_bytes()
    for inner in (b"", b"\xff", marshal.dumps({"a": "b"})[:-2], marshal.dumps(["not", "a", "table"])):
        entries = {"good.toml": (len(data), zlib.crc32(data), inner)}
        (tmp_path / tomldata.BUNDLE).write_bytes(marshal.dumps((tomldata._FORMAT, entries)))
        tomldata._entries.cache_clear()
        assert tomldata.load(path) == {"a": "b"}
    tomldata._entries.cache_clear()


def test_a_file_that_is_not_toml_stays_out_of_the_bundle(tmp_path: Path) -> None:
    (tmp_path / "good.toml").write_text('a = "b"\n', encoding="utf-8")
    (tmp_path / "bad.toml").write_text("a = = b\n", encoding="utf-8")
    (tmp_path / tomldata.BUNDLE).write_bytes(tomldata.bundle(tmp_path))
    assert tomldata.load(tmp_path / "good.toml") == {"a": "b"}
    with pytest.raises(tomllib.TOMLDecodeError):
        tomldata.load(tmp_path / "bad.toml")


def test_the_bundle_spares_tomllib(bundled: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from analyzer.rulebook import load_rules\n"
        "from analyzer.semantics.kb import load_knowledge\n"
        f"d = Path({str(bundled)!r})\n"
        "load_rules(d); load_knowledge(d / 'primitives.toml')\n"
        "print('tomllib' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False"]
