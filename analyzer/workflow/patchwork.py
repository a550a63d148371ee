"""The gate's patchwork records with what posting them needs: the series' identity for
`--target-url`, taken from the first message the user gave."""

from __future__ import annotations

import argparse
from pathlib import Path

from analyzer.formats.gatefmt import TARGET_FIELDS, format_patchwork, target_url
from analyzer.gate import GateResult
from analyzer.gitrepo import message_id
from analyzer.rulebook import Rule
from analyzer.source import InputError


def check_template(template: str) -> None:
    try:
        target_url(template, "s", 1, 1, "<x@y>", "x")
    except (KeyError, IndexError, ValueError) as err:
        raise InputError(
            f"--target-url {template!r}: {err} is not a field (known: "
            + ", ".join("{" + f + "}" for f in TARGET_FIELDS)
            + ")"
        ) from None


def records(args: argparse.Namespace, result: GateResult, rules: dict[str, Rule]) -> str:
    series = ""
    first = args.series[0] if args.tree and args.series else None
    if first is not None and Path(first).is_file():
        series = message_id(Path(first))  # the cover letter's, when the series has one
    if not series:  # the first patch's Message-Id, else the first file's name or the head revision
        ids = [p.message_id for p in result.patches if p.message_id]
        series = (
            ids[0] if ids else Path(first).stem if first and first not in ("-", "/dev/stdin") else args.head
        )
    return format_patchwork(result, rules, args.target_url or "", series)
