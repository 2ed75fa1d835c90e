"""Tables of figures as CSV for spreadsheets: a header, then rows, every cell defused.

A cell that starts with = + - @ (or a tab or carriage return) would run as a formula in a
spreadsheet, so it gets a leading apostrophe, as `readers.csv_io` does for the reader export.
Numbers are written as numbers (a negative one never occurs in our figures).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defuse(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def table_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """The table as CSV text, a line at a time (so a long one can be streamed)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in [header, *rows]:
        writer.writerow([defuse(cell) for cell in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
