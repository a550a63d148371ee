"""Where a `path:line` in a report points: a page of a source browser built from the
--source-url template, or (by default) the excerpt of that line in the report itself."""

from __future__ import annotations

import hashlib
import re
import string
from typing import NamedTuple
from urllib.parse import quote, urlsplit

FIELDS = ("path", "line", "rev", "version")


class TemplateError(ValueError):
    pass


def template_fields(template: str) -> set[str]:
    """The fields a --source-url template uses; TemplateError for anything else."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as err:
        raise TemplateError(f"--source-url {template!r}: {err}") from None
    used: set[str] = set()
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in FIELDS or spec or conversion:
            known = " ".join(f"{{{f}}}" for f in FIELDS)
            raise TemplateError(f"--source-url {template!r}: unknown field {{{name}}} (known: {known})")
        used.add(name)
    if urlsplit(template).scheme not in ("http", "https"):
        raise TemplateError(f"--source-url {template!r}: not an http:// or https:// URL")
    if "path" not in used:
        raise TemplateError(f"--source-url {template!r}: has no {{path}}")
    return used


class SourceUrl(NamedTuple):
    """A checked template and the revision values of one tree state."""

    template: str
    rev: str | None = None
    version: str | None = None

    def missing(self) -> str | None:
        """The field the template needs and this state cannot fill, if any."""
        used = template_fields(self.template)
        if "rev" in used and not self.rev:
            return "rev"
        if "version" in used and not self.version:
            return "version"
        return None

    def url(self, path: str, line: int) -> str:
        return self.template.format(
            path=quote(path, safe="/"),
            line=int(line),
            rev=quote(self.rev or "", safe=""),
            version=quote(self.version or "", safe=""),
        )


def slug(text: str) -> str:
    """An id fragment from tree text: identifier characters only."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)[:60] or "_"


def excerpt_id(state: str, path: str, line: int) -> str:
    """Stable id of the excerpt of path:line (the same in every run of the same tree)."""
    digest = hashlib.sha1(path.encode()).hexdigest()[:8]
    return f"src{'-' + state if state else ''}-{digest}-{line}"
