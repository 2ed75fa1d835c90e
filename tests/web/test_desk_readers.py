"""The desk's readers over real HTTP, on both engines: search, pages, the record, and the
actions (add, import, erase, suppress, unsuppress) with their audit entries and refusals."""

from __future__ import annotations

import csv
import io
import re

import httpx
import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import select

from digest.db import session_scope
from digest.models import AuditEntry, Subscriber, SubscriberStatus
from digest.readers import csv_io
from tests.support.desk_data import HOSTILE_NAME, History, reader
from tests.web.test_editor import csrf_of, path_of


def _count(engine: Engine) -> int:
    with session_scope(engine, read_only=True) as session:
        return int(session.exec(select(func.count()).select_from(Subscriber)).one())


def _audit(engine: Engine) -> list[tuple[str, str, str]]:
    with session_scope(engine, read_only=True) as session:
        rows = session.exec(select(AuditEntry).order_by(AuditEntry.id)).all()  # type: ignore[arg-type]
        # the login is audited too; these tests look at what was done to readers
        return [(a.action, a.target, a.detail) for a in rows if a.action.startswith("reader.")]


def test_search_filter_and_pages(history: History, client: httpx.Client) -> None:
    page = client.get("/editor/readers", params={"q": "reader1"})
    assert page.status_code == 200
    assert "reader1@example.com" in page.text and "reader10@example.com" in page.text
    assert "reader2@example.com" not in page.text
    pending = client.get("/editor/readers", params={"status": "pending"})
    assert "reader10@example.com" in pending.text and "reader2@" not in pending.text
    hostile = client.get("/editor/readers", params={"q": "<SCRIPT"})
    assert "<script>alert" not in hostile.text and "&lt;script&gt;" in hostile.text
    assert "<bdi>" in hostile.text  # a right-to-left override stays inside its cell


def test_keyset_pages_reach_every_reader(engine: Engine, client: httpx.Client) -> None:
    with session_scope(engine) as session:
        for n in range(120):
            reader(session, 1000 + n)
    seen: list[str] = []
    url = "/editor/readers"
    while url:
        page = client.get(url)
        assert page.status_code == 200
        seen += re.findall(r"reader(\d+)@example.com</a>", page.text)
        found = re.search(r'id="next-page" href="([^"]+)"', page.text)
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert sorted(seen) == sorted(str(1000 + n) for n in range(120))


@pytest.mark.parametrize(
    "params", [{"after": "abc"}, {"after": "-5"}, {"after": "9" * 30}, {"status": "nope"}]
)
def test_bad_cursors_are_400(
    history: History, client: httpx.Client, params: dict[str, str]
) -> None:
    page = client.get("/editor/readers", params=params)
    assert page.status_code == 400 and 'role="alert"' in page.text


@pytest.mark.parametrize("reader_id", ["0", "999999", "abc", "9" * 40, "1.5"])
def test_unknown_readers_are_404(history: History, client: httpx.Client, reader_id: str) -> None:
    assert client.get(f"/editor/readers/{reader_id}").status_code == 404


def test_reader_page_shows_record_history_events(history: History, client: httpx.Client) -> None:
    page = client.get(f"/editor/readers/{history.reader_ids[6]}")
    assert page.status_code == 200
    assert "reader6@example.com" in page.text and "192.0.2.1" in page.text
    assert '<a href="/editor/issues/1">#1</a>' in page.text
    assert "complained, delivered" in page.text and "email.complained" in page.text


def test_add_reader_is_audited_and_refuses_bad_input(engine: Engine, client: httpx.Client) -> None:
    token = csrf_of(client.get("/editor/readers").text)
    added = client.post(
        "/editor/readers", data={"csrf": token, "email": "New@Example.com", "name": HOSTILE_NAME}
    )
    assert added.status_code == 303
    page = client.get(path_of(added))
    assert "new@example.com" in page.text and "pending" in page.text
    assert "reader.add" in page.text and "<script>alert" not in page.text
    before = _count(engine)
    bad = client.post("/editor/readers", data={"csrf": token, "email": "not an address"})
    assert bad.status_code == 422 and 'role="alert"' in bad.text
    again = client.post("/editor/readers", data={"csrf": token, "email": "new@example.com"})
    assert again.status_code == 409 and "already on the list" in again.text
    forged = client.post("/editor/readers", data={"csrf": "0" * 64, "email": "x@example.com"})
    assert forged.status_code == 403
    assert _count(engine) == before
    assert [a[0] for a in _audit(engine)] == ["reader.add"]


def _import(client: httpx.Client, token: str, body: bytes) -> httpx.Response:
    files = {"file": ("list.csv", body, "text/csv")}
    return client.post("/editor/readers/import", data={"csrf": token}, files=files)


def test_import_is_all_or_nothing_with_line_numbers(engine: Engine, client: httpx.Client) -> None:
    token = csrf_of(client.get("/editor/readers").text)
    before = _count(engine)
    bad = _import(client, token, b"email,name\na@example.com,Ann\nnot-an-address,Bob\nc@x,Cy\n")
    assert bad.status_code == 422
    assert "line 3:" in bad.text and "line 4:" in bad.text and "line 2:" not in bad.text
    assert _count(engine) == before and _audit(engine) == []
    good = _import(client, token, b"email,name\na@example.com,Ann\nb@example.com,=HYPERLINK()\n")
    assert good.status_code == 200 and "2 new reader(s) added" in good.text
    assert _count(engine) == before + 2
    assert _audit(engine) == [("reader.import", "readers", "2 added, 0 already listed")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "email"),  # no header at all
        (b'email\n"unclosed@example.com\n', "malformed CSV"),
        (b"email\n\xff\xfe@example.com\n", "not UTF-8"),
        (b"x" * (csv_io.MAX_FILE_BYTES + 1), "larger than 10 MiB"),
    ],
)
def test_malformed_or_oversized_imports_change_nothing(
    engine: Engine, client: httpx.Client, body: bytes, message: str
) -> None:
    token = csrf_of(client.get("/editor/readers").text)
    before = _count(engine)
    answer = _import(client, token, body)
    assert answer.status_code == 422 and message in answer.text
    assert _count(engine) == before


def test_import_needs_a_file_and_the_csrf_token(engine: Engine, client: httpx.Client) -> None:
    token = csrf_of(client.get("/editor/readers").text)
    assert client.post("/editor/readers/import", data={"csrf": token}).status_code == 422
    forged = _import(client, "f" * 64, b"email\nz@example.com\n")
    assert forged.status_code == 403 and _count(engine) == 0


def test_export_streams_every_reader_defused(history: History, client: httpx.Client) -> None:
    answer = client.get("/editor/readers.csv")
    assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == 12
    pending = list(
        csv.DictReader(io.StringIO(client.get("/editor/readers.csv?status=pending").text))
    )
    assert [r["email"] for r in pending] == ["reader10@example.com"]


def test_suppress_unsuppress_erase_with_audit(
    engine: Engine, history: History, client: httpx.Client
) -> None:
    target = history.reader_ids[1]
    page = client.get(f"/editor/readers/{target}")
    token = csrf_of(page.text)
    no_reason = client.post(f"/editor/readers/{target}/suppress", data={"csrf": token})
    assert no_reason.status_code == 422 and "say why" in no_reason.text
    done = client.post(
        f"/editor/readers/{target}/suppress", data={"csrf": token, "reason": "asked by phone"}
    )
    assert done.status_code == 303
    assert _status(engine, target) is SubscriberStatus.SUPPRESSED
    twice = client.post(f"/editor/readers/{target}/suppress", data={"csrf": token, "reason": "x"})
    assert twice.status_code == 409
    client.post(f"/editor/readers/{target}/unsuppress", data={"csrf": token, "reason": "mistake"})
    assert _status(engine, target) is SubscriberStatus.CONFIRMED
    unticked = client.post(f"/editor/readers/{target}/erase", data={"csrf": token})
    assert unticked.status_code == 422 and _status(engine, target) is SubscriberStatus.CONFIRMED
    client.post(f"/editor/readers/{target}/erase", data={"csrf": token, "confirm": "yes"})
    assert _status(engine, target) is SubscriberStatus.ERASED
    assert _audit(engine) == [
        ("reader.suppress", f"reader {target}", "asked by phone"),
        ("reader.unsuppress", f"reader {target}", "mistake"),
        ("reader.erase", f"reader {target}", "personal data removed"),
    ]
    forged = client.post(f"/editor/readers/{target}/suppress", data={"csrf": "", "reason": "x"})
    assert forged.status_code == 403
    assert client.post("/editor/readers/abc/erase", data={"csrf": token}).status_code in (404, 422)
    gone = client.post("/editor/readers/999999/erase", data={"csrf": token, "confirm": "yes"})
    assert gone.status_code == 404


def _status(engine: Engine, subscriber_id: int) -> SubscriberStatus:
    with session_scope(engine, read_only=True) as session:
        row = session.get(Subscriber, subscriber_id)
        assert row is not None
        return SubscriberStatus(row.status)
