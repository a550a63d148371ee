"""A patch series as `gate --tree` takes it: format-patch files, an mbox (a lore thread, b4's
output, concatenated format-patch emails), from files, FIFOs or standard input.

Every message is copied into the gate's temporary directory first, so git (which runs in
the temporary tree) never sees a path relative to the user's working directory, and
standard input is read once. A message without a diff (a cover letter, b4's empty cover
commit, a reply in a thread) is not applied: it is skipped and said so. Patches are
numbered as the series numbers them (`[PATCH v2 3/7]`) where every patch says so.
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.policy
import re
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, NamedTuple

from analyzer.gitrepo import git
from analyzer.source import InputError

STDIN_NAMES = ("-", "/dev/stdin")
_NUMBER_RE = re.compile(r"\[[^\]]*?\b(\d+)/(\d+)\s*\]")
_PREFIX_RE = re.compile(r"^\s*(?:(?:re|fwd?)\s*:\s*)*(?:\[[^\]]*\]\s*)+", re.I)
_DIFF_RE = re.compile(rb"^(?:diff --git |--- \S.*\n\+\+\+ |GIT binary patch)", re.M)
_MBOX_FROM_RE = re.compile(rb"^From \S+ .*\d{4}$", re.M)


class SeriesPatch(NamedTuple):
    path: Path  # our own copy of the message, in the gate's temporary directory
    name: str  # what the user gave (a file, "standard input"), and which message of an mbox
    subject: str  # without its [PATCH k/N] prefix; the name for a plain diff
    number: int | None  # k and N of [PATCH k/N], where the subject has them
    total: int | None
    skip: str  # why it is not applied ("cover letter, no diff"), or ""


def read_inputs(names: list[str], stdin: BinaryIO) -> list[tuple[str, bytes]]:
    """The bytes of each SERIES argument: a file, a FIFO or /dev/stdin, or `-` (standard input)."""
    out = []
    for name in names:
        if name in STDIN_NAMES:
            out.append(("standard input", stdin.read()))
            continue
        try:
            with open(name, "rb") as fh:  # not a stat: FIFOs and process substitutions are fine
                out.append((name, fh.read()))
        except FileNotFoundError:
            raise InputError(f"{name}: no such patch file") from None
        except OSError as err:
            raise InputError(f"{name}: cannot read: {err.strerror or err}") from None
    return out


def split_series(inputs: Iterable[tuple[str, bytes]], into: Path) -> list[SeriesPatch]:
    """One SeriesPatch per message, in the order given."""
    into.mkdir(parents=True, exist_ok=True)
    out: list[SeriesPatch] = []
    for n, (name, data) in enumerate(inputs):
        if len(_MBOX_FROM_RE.findall(data)) > 1:
            target = into / f"mbox-{n:03d}"
            target.mkdir()
            (into / f"mbox-{n:03d}.mbox").write_bytes(data)
            rd = ["--mboxrd"] if data.startswith(b"From mboxrd@") else []
            git("mailsplit", *rd, "-o" + str(target), str(into / f"mbox-{n:03d}.mbox"))
            parts = sorted(target.iterdir())
            out += [_message(p, f"{name}, message {i}") for i, p in enumerate(parts, 1)]
        else:
            path = into / f"patch-{n:03d}"
            path.write_bytes(data)
            out.append(_message(path, name))
    return out


def _message(path: Path, name: str) -> SeriesPatch:
    data = path.read_bytes()
    raw = _subject(data)
    m = _NUMBER_RE.search(raw)
    number, total = (int(m.group(1)), int(m.group(2))) if m else (None, None)
    subject = _PREFIX_RE.sub("", raw).strip() or raw.strip() or Path(name).name
    skip = ""
    if re.match(r"\s*re\s*:", raw, re.I):
        skip = "a reply, not a patch"
    elif not _DIFF_RE.search(data):
        skip = "cover letter, no diff" if number == 0 else "no diff"
    return SeriesPatch(path, name, subject, number, total, skip)


def _subject(data: bytes) -> str:
    head = data.split(b"\n\n", 1)[0]
    if not re.search(rb"^Subject:", head, re.M):
        return ""
    msg = email.message_from_bytes(head + b"\n\n", policy=email.policy.compat32)
    value = msg.get("Subject", "")
    try:
        text = str(email.header.make_header(email.header.decode_header(value)))
    except (UnicodeError, LookupError, email.errors.HeaderParseError):
        text = str(value)
    return " ".join(text.split())


def numbered(patches: list[SeriesPatch]) -> list[tuple[SeriesPatch, int, int]]:
    """The patches to apply with their k/N: the series' own numbers when every one has a
    distinct number (applied in that order, as b4 does), else their order here."""
    applied = [p for p in patches if not p.skip]
    numbers = [p.number for p in applied]
    if applied and None not in numbers and len(set(numbers)) == len(numbers):
        ordered = sorted(applied, key=lambda p: p.number or 0)
        return [(p, p.number or 0, p.total or len(applied)) for p in ordered]
    return [(p, k, len(applied)) for k, p in enumerate(applied, 1)]
