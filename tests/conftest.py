"""Suite-wide settings: Hypothesis judges behaviour, not how fast a loaded machine runs an example.

On CI (the ``CI`` environment variable set) examples are derandomized and no example database is
kept, so a failure there is the same failure on every run and on a fresh clone.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("project", deadline=None)
settings.register_profile("project-ci", deadline=None, derandomize=True, database=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("project-ci" if os.environ.get("CI") else "project")
)
