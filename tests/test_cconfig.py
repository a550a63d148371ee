"""Conditionals on kernel config symbols decided by a known configuration (analyzer/cconfig.py),
and where `vdpa-lint cc` takes that configuration from."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.cconfig import KernelConfig, evaluate, resolve_config
from analyzer.workflow.cc import kernel_config, parse_argv

FULL = KernelConfig(
    {"CONFIG_A": "1", "CONFIG_M_MODULE": "1", "CONFIG_NR": "64", "CONFIG_S": '"x"'}, complete=True
)
PARTIAL = KernelConfig({"CONFIG_A": "1"})


@pytest.mark.parametrize(
    ("condition", "full", "partial"),
    [
        ("CONFIG_A", 1, 1),
        ("!CONFIG_A", 0, 0),
        ("defined(CONFIG_B)", 0, None),  # not set (complete) / not known (partial)
        ("defined CONFIG_A", 1, 1),
        ("IS_ENABLED(CONFIG_M)", 1, None),
        ("IS_BUILTIN(CONFIG_M)", 0, None),
        ("IS_MODULE(CONFIG_M)", 1, None),
        ("IS_REACHABLE(CONFIG_M)", None, None),  # depends on whether the user is a module
        ("IS_ENABLED(CONFIG_B)", 0, None),
        ("CONFIG_NR >= 32 && CONFIG_A", 1, None),
        ("CONFIG_S", None, None),  # set, but a string
        ("CONFIG_B || FOO", None, None),  # FOO is no config symbol
        ("CONFIG_A || FOO", 1, 1),
        ("CONFIG_B && FOO", 0, None),
        ("0", 0, 0),
        ("FOO(1)", None, None),
        ("CONFIG_A /* why */ && !defined(CONFIG_B) // more", 1, None),
        ("CONFIG_A & 1", None, None),  # an operator this evaluator does not read
    ],
)
def test_evaluate(condition: str, full: int | None, partial: int | None) -> None:
    assert evaluate(condition, FULL) == full
    assert evaluate(condition, PARTIAL) == partial


SOURCE = b"""a
#ifdef CONFIG_A
b
#else
c
#endif
#if FOO
d
#elif IS_ENABLED(CONFIG_M)
e
#else
f
#endif
#if CONFIG_B
g
#elif FOO
h
#else
i
#endif
#ifndef CONFIG_A
#if FOO
j
#endif
#endif
#if defined(CONFIG_A) && \\
    defined(CONFIG_B)
k
#endif
"""


def test_resolve_config_keeps_offsets_and_what_is_built() -> None:
    out = resolve_config(SOURCE, FULL)
    assert len(out) == len(SOURCE) and out.count(b"\n") == SOURCE.count(b"\n")
    assert [line.rstrip() for line in out.decode().split("\n")] == [
        "a",
        "",  # #ifdef CONFIG_A: true, the directive goes
        "b",
        "",
        "",  # the #else side goes
        "",
        "#if FOO",  # undecided: stays
        "d",
        "#else",  # known true after an undecided #if: becomes its #else
        "e",
        "",
        "",  # the old #else side goes
        "#endif",
        "",  # #if CONFIG_B: false, goes with its group
        "",
        "#if   FOO",  # the first undecided #elif opens the chain
        "h",
        "#else",
        "i",
        "#endif",
        "",  # #ifndef CONFIG_A: false, and everything inside it
        "",
        "",
        "",
        "",
        "",  # a continued directive: both lines go
        "",
        "",
        "",
        "",
    ]


def test_resolve_config_without_knowledge_changes_nothing() -> None:
    assert resolve_config(SOURCE, KernelConfig({})) == SOURCE  # every side is analysed, as before


def test_kbuild_argv_and_where_the_configuration_comes_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "linux"
    (root / "include/generated").mkdir(parents=True)
    (root / "include/linux").mkdir()
    (root / "include/linux/vdpa.h").write_text("struct vdpa_config_ops { int (*reset)(void); };\n")
    (root / "include/generated/autoconf.h").write_text("#define CONFIG_A 1\n#define CONFIG_M_MODULE 1\n")
    (root / "extra.h").write_text("#define CONFIG_EXTRA 1\n")
    monkeypatch.chdir(root)
    inv = parse_argv(
        ["--fail-on", "warning", "-D__linux__", "-D", "CONFIG_D=2", "-UCONFIG_GONE", "-Wp,-MMD,x.d", "-include",
         "./include/linux/kconfig.h", "-isystem", "/usr/include", "-I./include", "-std=gnu11", "drivers/x.c"]
    )  # fmt: skip
    assert (inv.source, inv.fail_on, inv.config, inv.headers) == (
        "drivers/x.c",
        "warning",
        {"CONFIG_D": "2"},
        ("./include/linux/kconfig.h",),
    )
    config = kernel_config(inv, root)
    assert config == KernelConfig({"CONFIG_A": "1", "CONFIG_M_MODULE": "1", "CONFIG_D": "2"}, complete=True)
    # A header of its own with config defines adds to what is known, without completing it.
    only = kernel_config(parse_argv(["-include", "extra.h", "x.c"]), root)
    assert only == KernelConfig({"CONFIG_EXTRA": "1"}, complete=False)
    assert kernel_config(parse_argv(["-D__KERNEL__", "x.c"]), root) is None
    assert parse_argv(["-Wsparse-error", "x.c"]).fail_on == "warning"
