"""`vdpa-lint cc`: the checker kbuild runs with `make C=1 CHECK="vdpa-lint cc"` (or C=2).

kbuild runs the checker as it runs sparse (scripts/Makefile.build):
`$(CHECK) $(CHECKFLAGS) $(c_flags) $<`, from the top of the build, once per C file: sparse's
flags (`-D__linux__ -Dlinux ... --arch=x86_64 -m64 -Wbitwise ...`), then the compiler's (`-Wp,-MMD,...`,
`-nostdinc`, `-I`, `-isystem`, `-include FILE`, `-D`, `-W`, `-f`, `-m`), the source file last.
Like sparse it prints gcc-style diagnostics on stderr and exits 0, so the build goes on;
`-Wsparse-error` (kbuild's `CF=-Wsparse-error`) or `--fail-on LEVEL` make findings exit 1.
Files that define no `struct vdpa_config_ops` table are passed at once.

The configuration kbuild builds with is taken from `-D CONFIG_...` and from the headers
given with `-include` (kconfig.h brings in include/generated/autoconf.h): conditionals on
config symbols are then decided, not analysed on both sides.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Collection
from pathlib import Path
from typing import NamedTuple

from analyzer.cache import FactsCache
from analyzer.cconfig import KernelConfig, config_from_header
from analyzer.engine import Analysis
from analyzer.findings import Finding
from analyzer.rulebook import Rule
from analyzer.source import API_HEADER, InputError, kernel_root
from analyzer.workflow.config import FAIL_ON

# Compiler options whose value is the next argument.
_WITH_VALUE = frozenset(
    {
        "-D", "-U", "-I", "-include", "-imacros", "-isystem", "-idirafter", "-iquote", "-iprefix",
        "-o", "-x", "-MF", "-MT", "-MQ", "--param", "-Xassembler", "-Xpreprocessor", "-Xlinker",
        "-aux-info", "-arch", "-target",
    }
)  # fmt: skip
_TABLE_RE = re.compile(rb"\bvdpa_config_ops\s+\w+\s*=")


class Invocation(NamedTuple):
    source: str
    config: dict[str, str]
    headers: tuple[str, ...]  # -include / -imacros files, as given
    fail_on: str


def parse_argv(argv: list[str]) -> Invocation:
    """kbuild's checker argument list. Our own options (--fail-on) come first."""
    fail_on = "never"
    config: dict[str, str] = {}
    headers: list[str] = []
    sources: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        value: str | None = None
        if arg in _WITH_VALUE or arg == "--fail-on":
            if i + 1 >= len(argv):
                raise InputError(f"cc: {arg} needs a value")
            value = argv[i + 1]
            i += 2
        else:
            i += 1
        if arg == "--fail-on" or arg.startswith("--fail-on="):
            level = value if value is not None else arg.split("=", 1)[1]
            if level not in FAIL_ON:
                raise InputError(f"cc: --fail-on must be one of {', '.join(FAIL_ON)}, not {level!r}")
            fail_on = level
        elif arg == "-Wsparse-error":
            fail_on = "warning" if fail_on == "never" else fail_on
        elif arg in ("-D", "-U") or (arg.startswith(("-D", "-U")) and len(arg) > 2):
            text = value if value is not None else arg[2:]
            name, _, val = text.partition("=")
            if name.startswith("CONFIG_"):
                if arg.startswith("-U"):
                    config.pop(name, None)
                else:
                    config[name] = val or "1"
        elif arg in ("-include", "-imacros") and value is not None:
            headers.append(value)
        elif not arg.startswith("-") and value is None:
            sources.append(arg)
    if not sources:
        raise InputError("cc: no source file (kbuild passes it last)")
    return Invocation(sources[-1], config, tuple(headers), fail_on)


def kernel_config(inv: Invocation, root: Path) -> KernelConfig | None:
    """What the configuration is, from -D CONFIG_* and the -include headers. kconfig.h
    includes generated/autoconf.h, which has every symbol that is set: with it, the
    configuration is complete."""
    values: dict[str, str] = {}
    complete = False
    for header in inv.headers:
        path = Path(header)
        if path.name == "kconfig.h":
            # kconfig.h includes generated/autoconf.h: in the build directory (O=) or the tree.
            generated = "include/generated/autoconf.h"
            candidates = [Path.cwd() / generated, root / generated]
        else:
            candidates = [path] if path.is_absolute() else [Path.cwd() / path, root / path]
        for c in candidates:
            if c.is_file():
                data = c.read_bytes()
                values.update(config_from_header(data))
                complete = complete or c.name == "autoconf.h"
                break
    values.update(inv.config)
    if not values and not complete:
        return None
    return KernelConfig(values, complete)


def run_cc(
    argv: list[str],
    rules: dict[str, Rule],
    enabled: Collection[str],
    cache: FactsCache | None,
) -> tuple[list[Finding], str, Path | None]:
    """The findings for the ops tables the source file defines, its fail-on level, and the
    tree root (None when the file holds no table and nothing was analysed)."""
    inv = parse_argv(argv)
    source = Path(inv.source)
    try:
        data = source.read_bytes()
    except OSError as err:
        raise InputError(f"{inv.source}: {err.strerror or err}") from None
    if not _TABLE_RE.search(data):
        return [], inv.fail_on, None
    root = kernel_root(source.absolute())
    if root is None:
        raise InputError(f"{inv.source}: no kernel tree above it (no {API_HEADER})")
    rel = source.absolute().relative_to(root).as_posix()
    enabled = _configured(root, rel, rules, enabled)
    if not enabled:
        return [], inv.fail_on, None
    config = kernel_config(inv, root)
    analysis = Analysis([str(source)], rules, enabled, cache=None if config else cache)
    analysis.index.config = config
    result = analysis.run(store_cache=config is None)
    mine = [f for f in result.findings if (f.ops_table.path if f.ops_table else f.path) == rel]
    return mine, inv.fail_on, root


def _configured(root: Path, rel: str, rules: dict[str, Rule], enabled: Collection[str]) -> set[str]:
    """The tree's .vdpa-lint.toml: its select and ignore, and no rule at all for a file its
    exclude names (fail-on is kbuild's to decide: -Wsparse-error, --fail-on)."""
    from analyzer.rulebook import resolve_rule_ids
    from analyzer.workflow.config import excluded, find_config, load_config

    path = find_config(root)
    values = load_config(path) if path is not None else {}
    chosen = set(enabled)
    select, ignore, exclude = values.get("select"), values.get("ignore"), values.get("exclude")
    if isinstance(select, list):
        chosen &= resolve_rule_ids(rules, select)
    if isinstance(ignore, list):
        chosen -= resolve_rule_ids(rules, ignore)
    if isinstance(exclude, list) and excluded(rel, exclude):
        return set()
    return chosen


def gcc_lines(findings: list[Finding], prefix: str) -> str:
    """gcc-style, paths as kbuild gave the source (relative to where make runs)."""
    out = []
    for f in findings:
        out.append(f"{prefix}{f.path}:{f.line}:{f.column}: {f.severity}: {f.message} [{f.rule_id} {f.name}]")
        out += [f"{prefix}{s.path}:{s.line}:{s.column}: note: {s.note}" for s in f.trace]
    return "".join(line + "\n" for line in out)


def report(argv: list[str], findings: list[Finding], root: Path | None) -> None:
    if root is None or not findings:
        return
    source = parse_argv(argv).source
    # kbuild gives drivers/vdpa/x/y.c from the top (or ../src/... with O=): keep its prefix.
    rel = source.removesuffix(Path(source).absolute().relative_to(root).as_posix())
    sys.stderr.write(gcc_lines(findings, rel))
