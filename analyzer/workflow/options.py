"""The options and subcommands the workflow adds to the command line (cli.py registers
them): check's configuration and short-output options, b4's check-patch, kbuild's cc."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from analyzer.workflow.config import FAIL_ON

EXCLUDE_HELP = "leave out ops tables in files matching this path glob (repeatable)"


class VersionAction(argparse.Action):
    """--version: vdpa-lint's, tree-sitter's and the grammar's versions, and the rules' digest."""

    def __init__(self, option_strings: list[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        from analyzer.workflow.about import version_text

        sys.stdout.write(version_text())
        parser.exit()


def add_check_options(c: argparse.ArgumentParser) -> None:
    """check's options for the tree's configuration and short output."""
    c.add_argument("--exclude", action="append", metavar="GLOB", help=EXCLUDE_HELP)
    c.add_argument(
        "--show-config",
        action="store_true",
        help="print the settings in force (.vdpa-lint.toml and the command line) and where each came from",
    )
    c.add_argument(
        "-q", "--quiet", action="store_true", help="text: findings only, no summary or not-applicable notes"
    )
    c.add_argument("--terse", action="store_true", help="text: one line per finding, no trace notes")


def add_commands(
    sub: argparse._SubParsersAction[Any], selection_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    """b4's per-patch check and kbuild's checker."""
    k = sub.add_parser(
        "check-patch",
        help="judge one patch as b4's prep-perpatch-check-cmd (checkpatch --terse lines)",
    )
    k.add_argument(
        "patch",
        nargs="?",
        default="-",
        metavar="FILE",
        help="the patch as an email or format-patch file (default: -, stdin)",
    )
    k.add_argument(
        "--tree",
        metavar="DIR",
        help="the tree (default: the top of the git work tree, else the current directory)",
    )
    k.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="error",
        help="lowest severity of an introduced finding that makes the exit status 1 (default: error)",
    )
    selection_options(k)
    sub.add_parser(
        "cc",
        help="kbuild's checker: make C=1 CHECK=\"vdpa-lint cc\" (takes kbuild's argument list)",
        description="Run by kbuild as sparse is: vdpa-lint cc [--fail-on LEVEL] CHECKFLAGS C_FLAGS FILE.c. "
        "Findings for the ops tables FILE.c defines go to stderr, gcc-style; the exit status is 0 "
        "unless -Wsparse-error or --fail-on is given.",
    )
