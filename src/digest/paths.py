"""Where the files beside the code live: templates, migrations and the sample comparisons.

One place, so that moving a module one level deeper never breaks a lookup.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EMAIL_TEMPLATES = ROOT / "templates" / "email"
WEB_TEMPLATES = ROOT / "templates" / "web"
MIGRATIONS = ROOT / "migrations"
SAMPLES = ROOT / "data" / "sample"
