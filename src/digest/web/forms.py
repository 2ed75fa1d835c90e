"""Reading small request bodies: a urlencoded form or a JSON object, as flat strings.

Every reader-facing POST reads its body through here, so the size cap, the UTF-8 check and the
field cap are the same everywhere.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from fastapi import Request

from digest.readers import csv_io
from digest.web.deps import BodyTooLarge, read_body

MAX_FORM_BYTES = 16 * 1024  # every reader-facing form and small JSON body
MAX_EDITOR_FORM_BYTES = 64 * 1024  # a 2000-character note of emoji, percent-encoded
MAX_FORM_FIELDS = 20
# The desk's CSV import (a multipart upload): the file (csv_io.MAX_FILE_BYTES) and the form
# around it. A file between the two limits gets csv_io's own message; beyond, the edge
# refuses the body unread.
IMPORT_PATH = "/editor/readers/import"
MAX_IMPORT_BYTES = csv_io.MAX_FILE_BYTES + 64 * 1024


class BadBody(Exception):
    """The body is not a small urlencoded form or JSON object; `status` is 400 or 413."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


async def read_fields(request: Request, limit: int = MAX_FORM_BYTES) -> tuple[dict[str, str], bool]:
    """A small urlencoded form or JSON object as flat strings, and whether it was JSON. At most
    `limit` bytes are read: past them, BadBody (413) and the rest is never read."""
    text = await _read_text(request, limit)
    if wants_json(request):
        return _json_fields(text), True
    try:
        pairs = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:  # more fields than any of our forms has
        raise BadBody("that request has too many fields") from None
    return {key: values[0] for key, values in pairs.items()}, False


async def _read_text(request: Request, limit: int) -> str:
    try:
        raw = await read_body(request, limit)
    except BodyTooLarge:
        raise BadBody("that request is too large", status=413) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody("that request is not UTF-8 text") from None


def _json_fields(text: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # also a 4300+ digit number, or absurd nesting
        raise BadBody("that request is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadBody('send a JSON object such as {"email": "you@example.com"}')
    return {str(key): value for key, value in data.items() if isinstance(value, str)}


def wants_json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    return content_type.split(";")[0].strip().lower() == "application/json"


MAX_LIST_VALUES = 100  # ticked boxes of one list (topics): more than any form of ours offers


async def read_fields_and_lists(
    request: Request, list_fields: frozenset[str]
) -> tuple[dict[str, str], dict[str, list[str]], bool]:
    """Like `read_fields` (the same bounded read), but the fields named in `list_fields` keep
    every value: checkboxes sent once per ticked box, or a JSON array of strings (a lone string
    counts as one)."""
    text = await _read_text(request, MAX_FORM_BYTES)
    if wants_json(request):
        return _json_with_lists(text, list_fields)
    try:
        pairs = parse_qs(
            text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS + MAX_LIST_VALUES
        )
    except ValueError:
        raise BadBody("that request has too many fields") from None
    fields = {key: values[0] for key, values in pairs.items() if key not in list_fields}
    if len(fields) > MAX_FORM_FIELDS:
        raise BadBody("that request has too many fields")
    return fields, {key: pairs.get(key, []) for key in list_fields}, False


def _json_with_lists(
    text: str, list_fields: frozenset[str]
) -> tuple[dict[str, str], dict[str, list[str]], bool]:
    fields = _json_fields(text)
    data = json.loads(text)  # valid: _json_fields parsed it already
    lists: dict[str, list[str]] = {}
    for key in list_fields:
        value = data.get(key) or []  # absent or null: none
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise BadBody(f'"{key}" must be a list of strings')
        lists[key] = value
    return fields, lists, True
