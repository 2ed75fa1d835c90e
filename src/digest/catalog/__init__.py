"""The catalog: the site's comparisons and tools, imported and listed.

    format.py  the JSON comparison format (docs/comparison-format.md), validated
    store.py   import (all-or-nothing upsert by slug) and list
    views.py   ComparisonView/ToolView/Panel: comparisons as the renderer sees them
    topics.py  topics from tool categories: list, find, rename, merge; a comparison's topics

Rule: the API and the CLI share one validator; nothing is written before a whole import
validates.
"""

from digest.catalog.format import ComparisonIn, ToolIn, parse_document, validate_document
from digest.catalog.store import ImportReport, import_comparisons, list_comparisons
from digest.catalog.topics import (
    comparison_topics,
    list_topics,
    live_topic,
    merge_topics,
    names_of,
    rename_topic,
    resolve_slugs,
    topic_summaries,
)
from digest.catalog.views import (
    CatalogVersion,
    ComparisonView,
    Panel,
    ToolView,
    catalog_version,
    load_views,
)

__all__ = [
    "CatalogVersion",
    "ComparisonIn",
    "ComparisonView",
    "ImportReport",
    "Panel",
    "ToolIn",
    "ToolView",
    "catalog_version",
    "comparison_topics",
    "import_comparisons",
    "list_comparisons",
    "list_topics",
    "live_topic",
    "load_views",
    "merge_topics",
    "names_of",
    "parse_document",
    "rename_topic",
    "resolve_slugs",
    "topic_summaries",
    "validate_document",
]
