"""`.vdpa-lint.toml`: a tree's defaults for select, ignore, fail-on, baseline and exclude.

The file is looked for from the first PATH upwards, up to the kernel tree's root (the
directory holding include/linux/vdpa.h) or the top of a git work tree, whichever comes
first. Options given on the command line win over it; `check --show-config` prints the
values in force and where each came from. A file that cannot be read or says something
vdpa-lint does not know is one line on stderr and exit status 2, never a silent default.
"""

from __future__ import annotations

import argparse
import fnmatch
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from analyzer import tomldata
from analyzer.findings import Result

CONFIG_NAME = ".vdpa-lint.toml"
FAIL_ON = ("error", "warning", "note", "never")  # as the command line takes them
# key in the file -> attribute of the parsed command line
KEYS = {
    "select": "select",
    "ignore": "ignore",
    "fail-on": "fail_on",
    "baseline": "baseline",
    "exclude": "exclude",
}
_LISTS = ("select", "ignore", "exclude")


class ConfigError(Exception):
    """A .vdpa-lint.toml that cannot be used (exit status 2)."""


class Setting(NamedTuple):
    key: str
    value: object
    origin: str  # "command line", the config file's path, or "default"


def find_config(start: Path) -> Path | None:
    """The nearest .vdpa-lint.toml at or above start, not above the tree's root."""
    here = start.absolute()
    if not here.is_dir():
        here = here.parent
    for d in (here, *here.parents):
        candidate = d / CONFIG_NAME
        if candidate.is_file():
            return candidate
        if (d / "include/linux/vdpa.h").is_file() or (d / ".git").exists():
            return None
    return None


def load_config(path: Path) -> dict[str, object]:
    """The file's settings, checked: known keys only, each of its type."""
    try:
        data = tomldata.parse(path.read_bytes())
    except OSError as err:
        raise ConfigError(f"{path}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except ValueError as err:  # tomllib.TOMLDecodeError
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    out: dict[str, object] = {}
    for key, value in data.items():
        if key not in KEYS:
            raise ConfigError(f"{path}: unknown key {key!r} (known: {', '.join(KEYS)})")
        if key in _LISTS:
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                raise ConfigError(f"{path}: {key!r} must be a list of non-empty strings")
            if key != "exclude" and not value:
                raise ConfigError(f"{path}: {key!r} is empty (leave it out to keep every rule)")
            out[key] = list(value)
        elif key == "fail-on":
            if value not in FAIL_ON:
                raise ConfigError(f"{path}: 'fail-on' must be one of {', '.join(FAIL_ON)}, not {value!r}")
            out[key] = value
        else:  # baseline: a path relative to the file
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{path}: 'baseline' must be a file name")
            out[key] = str(path.parent / value)
    return out


def explicit_dests(parser: argparse.ArgumentParser, argv: Sequence[str]) -> set[str]:
    """The attributes argv sets itself (not by default): the parser again, with every
    default suppressed, so that an explicit `--fail-on error` counts as given."""
    seen: set[int] = set()

    def suppress(p: argparse.ArgumentParser) -> None:
        if id(p) in seen:
            return
        seen.add(id(p))
        p._defaults.clear()
        for action in p._actions:
            action.default = argparse.SUPPRESS
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    suppress(sub)

    suppress(parser)
    return set(vars(parser.parse_args(list(argv))))


def apply_config(
    args: argparse.Namespace,
    explicit: Callable[[], set[str]],
    start: Path | None,
    origins: bool = False,
) -> tuple[Path | None, list[Setting]]:
    """Fill what the command line left unset from the tree's file; return it and the
    settings in force, with their origins when asked (for --show-config). `explicit`
    gives the attributes the command line set; it is only called when a file or the
    origins need it (it parses the command line a second time)."""
    path = find_config(start) if start is not None else None
    values = load_config(path) if path is not None else {}
    if not values and not origins:
        return path, []
    given = explicit()
    settings = []
    for key, dest in KEYS.items():
        if not hasattr(args, dest):
            continue
        if dest in given:
            origin = "command line"
        elif key in values:
            setattr(args, dest, values[key])
            origin = str(path)
        else:
            origin = "default"
        settings.append(Setting(key, getattr(args, dest), origin))
    return path, settings


def show_config(path: Path | None, settings: Iterable[Setting]) -> str:
    lines = [f"# {path if path is not None else 'no ' + CONFIG_NAME + ' found'}"]
    for s in settings:
        value = s.value
        if isinstance(value, list):
            shown = "[" + ", ".join(f'"{v}"' for v in value) + "]"
        elif value is None:
            shown = "(none)"
        else:
            shown = f'"{value}"'
        lines.append(f"{s.key} = {shown}  # {s.origin}")
    return "\n".join(lines) + "\n"


def excluded(path: str, patterns: Iterable[str]) -> bool:
    """Whether a tree-relative path matches an exclude glob (a directory's glob covers
    everything under it)."""
    for pat in patterns:
        pat = pat.strip().rstrip("/")
        if fnmatch.fnmatchcase(path, pat) or fnmatch.fnmatchcase(path, pat + "/*"):
            return True
    return False


def without_excluded(result: Result, patterns: Iterable[str]) -> Result:
    """The result without the ops tables (and their findings) of excluded files."""
    pats = list(patterns)

    def out(path: str) -> bool:
        return excluded(path, pats)

    return result._replace(
        drivers=tuple(d for d in result.drivers if not out(d.table.path)),
        findings=tuple(f for f in result.findings if not out(f.ops_table.path if f.ops_table else f.path)),
    )
