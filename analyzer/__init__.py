"""vdpa-lint: checks vDPA parent drivers against the Linux 6.7 reset/mapping contract."""

from __future__ import annotations

__version__ = "0.1.0"
