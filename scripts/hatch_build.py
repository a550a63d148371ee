"""Wheel build hook: the rule files parsed once, at build time (analyzer/tomldata.py says why).

Editable installs read rules/ from the checkout and parse it at run time: nothing to add.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class RulesBundleHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "rules-bundle"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        root = Path(self.root)
        spec = importlib.util.spec_from_file_location(
            "_vdpa_lint_tomldata", root / "analyzer" / "tomldata.py"
        )
        assert spec is not None and spec.loader is not None
        tomldata = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(tomldata)
        self._tmp = tempfile.mkdtemp(prefix="vdpa-lint-build-")
        out = Path(self._tmp) / tomldata.BUNDLE
        out.write_bytes(tomldata.bundle(root / "rules"))
        build_data["force_include"][str(out)] = f"analyzer/_rules/{tomldata.BUNDLE}"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        tmp = getattr(self, "_tmp", None)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
