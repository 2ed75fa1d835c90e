"""The subscriber export's (`csv_export`) exact bytes, on both engines: hostile and unicode cells, every
status, readers with topics, across page boundaries. EXPECTED was written by the ORM export
that came before the streamed one; the two must not differ by a byte, but for the rows' ends:
CRLF since a bare carriage return in a cell went out unquoted (it is quoted now)."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine

from digest.db import session_scope
from digest.models import ConsentRoute, Subscriber, SubscriberStatus, SubscriberTopic, Topic
from digest.readers import csv_export
from tests.support.ledger import NOW

LATER = NOW + timedelta(days=2, microseconds=123456)


def reader(email: str | None, status: SubscriberStatus, **values: Any) -> Subscriber:
    hashed = hashlib.sha256((email or "gone@example.com").encode()).hexdigest()
    values.setdefault("consent_route", ConsentRoute.FORM)
    return Subscriber(email=email, email_hash=hashed, status=status, created_at=NOW, **values)


def readers() -> list[Subscriber]:
    return [
        reader(
            "ann@example.com",
            SubscriberStatus.CONFIRMED,
            name='=HYPERLINK("http://evil.example","x")',
            confirmed_at=NOW,
            consent_at=NOW,
            consent_ip="203.0.113.9",
            consent_user_agent='Mozilla/5.0 (X11; Linux) "quoted", comma',
        ),
        reader(
            "zoe@bücher.example",
            SubscriberStatus.PENDING,
            name="Zoë Ångström 日本語 😀",
            consent_at=LATER,
            consent_ip="2001:db8::1",
            pending_topics="1,2",
        ),
        reader(
            "+plus@example.com",
            SubscriberStatus.UNSUBSCRIBED,
            name="-2+3",
            confirmed_at=NOW,
            unsubscribed_at=LATER,
            consent_route=ConsentRoute.API,
            consent_at=NOW,
            consent_ip="-1",
            consent_user_agent="@SUM(A1)",
        ),
        reader(
            "=cmd@example.com",
            SubscriberStatus.BOUNCED,
            name="\tTabbed",
            suppressed_at=LATER,
            consent_route=ConsentRoute.IMPORT,
        ),
        reader(None, SubscriberStatus.ERASED, erased_at=LATER, consent_route=ConsentRoute.CLI),
        reader(
            "@at@example.com",
            SubscriberStatus.CONFIRMED,
            name='Line\nbreak, "quote"',
            confirmed_at=LATER,
            consent_route=ConsentRoute.DESK,
            # defused and quoted: a bare carriage return would end the row for a CSV reader
            consent_user_agent="\rCR first",
        ),
        reader("plain@example.com", SubscriberStatus.SUPPRESSED, suppressed_at=NOW),
    ]


EXPECTED = (
    "email,name,status,subscribed_at,confirmed_at,unsubscribed_at,suppressed_at,erased_at,"
    "consent_route,consent_at,consent_ip,consent_user_agent,email_hash\r\n"
    'ann@example.com,"\'=HYPERLINK(""http://evil.example"",""x"")",confirmed,'
    "2026-11-16T08:00:00+00:00,2026-11-16T08:00:00+00:00,,,,form,2026-11-16T08:00:00+00:00,"
    '203.0.113.9,"Mozilla/5.0 (X11; Linux) ""quoted"", comma",'
    "71d4f55f72fa128dfb468a1a3901507c804b74316488744d769d7f4b16696476\r\n"
    "zoe@bücher.example,Zoë Ångström 日本語 😀,pending,2026-11-16T08:00:00+00:00,,,,,form,"
    "2026-11-18T08:00:00.123456+00:00,2001:db8::1,,"
    "f20cf6b2c7ed128865872e25d2dc7d725f0441984ee9518fc3e94637003f4470\r\n"
    "'+plus@example.com,'-2+3,unsubscribed,2026-11-16T08:00:00+00:00,"
    "2026-11-16T08:00:00+00:00,2026-11-18T08:00:00.123456+00:00,,,api,"
    "2026-11-16T08:00:00+00:00,'-1,'@SUM(A1),"
    "a78bf6fc238bcccfd0aa28d39a0eb54e37cbad1cdd27ecaba0155384ff801eb2\r\n"
    "'=cmd@example.com,'\tTabbed,bounced,2026-11-16T08:00:00+00:00,,,"
    "2026-11-18T08:00:00.123456+00:00,,import,,,,"
    "e8ad21cb7f7904e819de483ded1c2a35fc756a0f814801a0c8a764cc94100ec7\r\n"
    ",,erased,2026-11-16T08:00:00+00:00,,,,2026-11-18T08:00:00.123456+00:00,cli,,,,"
    "c1ab2e558c55746cd739524ff4165e7012a9d55f8c3eeb60a81b8d1277d0a31c\r\n"
    "'@at@example.com,\"Line\n"
    'break, ""quote""",confirmed,2026-11-16T08:00:00+00:00,'
    '2026-11-18T08:00:00.123456+00:00,,,,desk,,,"\'\rCR first",'
    "92c790d0223d3fc837151489457a0653d46a7ff247c211dbbe422c6fd7e60e95\r\n"
    "plain@example.com,,suppressed,2026-11-16T08:00:00+00:00,,,2026-11-16T08:00:00+00:00,,"
    "form,,,,e70853e0d604154d955b7e7c967b8df89e656649c3d880f7d8a8a2e79c8c7516\r\n"
)


def fill(engine: Engine) -> None:
    with session_scope(engine) as session:
        topics = [Topic(slug="ai", name="AI"), Topic(slug="dev", name="=Dev tools")]
        rows = readers()
        for row in rows:  # one at a time: ids in list order
            session.add(row)
            session.flush()
        session.add_all(topics)
        session.flush()
        for row in rows[:2]:
            for topic in topics:
                assert topic.id is not None and row.id is not None
                session.add(SubscriberTopic(subscriber_id=row.id, topic_id=topic.id))


def exported(engine: Engine, *, status: SubscriberStatus | None = None) -> str:
    """The export, three readers a page: the seven cross two page boundaries."""
    with session_scope(engine, read_only=True) as session:
        return "".join(csv_export.export_csv(session, status=status, page=3))


def test_the_export_is_byte_for_byte_what_it_was(engine: Engine) -> None:
    fill(engine)
    text = exported(engine)
    assert text == EXPECTED
    # and a CSV reader reads it back, a row per reader, the multi-line cells whole
    table = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    assert len(table) == 1 + len(readers())
    assert table[6][1] == 'Line\nbreak, "quote"' and table[6][11] == "'\rCR first"


def test_an_export_of_one_status_has_only_those_rows(engine: Engine) -> None:
    fill(engine)
    header, body = EXPECTED.split("\r\n", 1)
    records = re.findall(r"(?s).*?[0-9a-f]{64}\r\n", body)  # a record ends with its hash
    assert len(records) == len(readers())
    confirmed = "".join(record for record in records if ",confirmed," in record)
    assert exported(engine, status=SubscriberStatus.CONFIRMED) == header + "\r\n" + confirmed
