"""Figures for the editor's desk and /api/stats: read-only, set-based (GROUP BY), indexed.

    lists.py    the list's size by status (confirmed, pending, unsubscribed, suppressed, erased)
    growth.py   a weekly series: new confirmations, unsubscribes, bounces and complaints
    tallies.py  sent issues' figures counted in the background and kept (IssueTally)
    issues.py   per-issue figures (sent ... complained, unsubscribed after it, rates) and one
                issue's ledger (deliveries and batches by status, failure reasons, events)
    readers.py  search readers (address or name, status) a page at a time by keyset; one
                reader's record (consent, delivery history, provider events)
    csv_out.py  any table of figures as CSV, every cell defused for spreadsheets

Rule: nothing here writes. Every function takes the session (and `now` where time matters);
the counting happens in the database, never by loading rows into Python.
"""

from digest.stats.csv_out import table_csv
from digest.stats.growth import GrowthWeek, growth_series
from digest.stats.issues import (
    COMPLAINT_LINES,
    IssueFigures,
    IssueLedger,
    issue_figures,
    issue_ledger,
    live_figures,
    open_request,
)
from digest.stats.lists import ListHealth, list_health
from digest.stats.readers import (
    BadCursor,
    ReaderPage,
    ReaderRecord,
    ReaderRow,
    reader_record,
    search_readers,
)
from digest.stats.tallies import keep_figures, refresh_tallies

__all__ = [
    "COMPLAINT_LINES",
    "BadCursor",
    "GrowthWeek",
    "IssueFigures",
    "IssueLedger",
    "ListHealth",
    "ReaderPage",
    "ReaderRecord",
    "ReaderRow",
    "growth_series",
    "issue_figures",
    "issue_ledger",
    "keep_figures",
    "list_health",
    "live_figures",
    "open_request",
    "reader_record",
    "refresh_tallies",
    "search_readers",
    "table_csv",
]
