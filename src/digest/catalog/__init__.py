"""The catalog: the site's comparisons and tools, imported and listed.

    format.py  the JSON comparison format (docs/comparison-format.md), validated
    store.py   import (all-or-nothing upsert by slug) and list
    views.py   ComparisonView/ToolView/Panel: comparisons as the renderer sees them

Rule: the API and the CLI share one validator; nothing is written before a whole import
validates.
"""

from digest.catalog.format import ComparisonIn, ToolIn, parse_document, validate_document
from digest.catalog.store import ImportReport, import_comparisons, list_comparisons
from digest.catalog.views import ComparisonView, Panel, ToolView, load_views

__all__ = [
    "ComparisonIn",
    "ComparisonView",
    "ImportReport",
    "Panel",
    "ToolIn",
    "ToolView",
    "import_comparisons",
    "list_comparisons",
    "load_views",
    "parse_document",
    "validate_document",
]
