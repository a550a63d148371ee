"""vdpa-lint: checks vDPA parent drivers against the Linux 6.7 reset/mapping contract."""

from __future__ import annotations

__version__ = "0.1.0"
# Where the project and its rule documentation (docs/rules/) are published: SARIF's
# informationUri and each rule's helpUri point here.
REPOSITORY_URL = "https://github.com/vdpa-lint/vdpa-lint"
RULE_DOCS_URL = REPOSITORY_URL + "/blob/main/docs/rules/{id}.md"
