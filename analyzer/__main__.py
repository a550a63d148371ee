"""`python -m analyzer` is the same program as `vdpa-lint`."""

from __future__ import annotations

from analyzer.cli import main

raise SystemExit(main())
