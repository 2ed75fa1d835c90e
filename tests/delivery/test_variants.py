"""Topic variants in the ledger: each reader gets the week's comparisons in their topics, from a
copy rendered once per topic set; readers whose topics are quiet this week are skipped, saying
why; names greet per recipient."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from digest import catalog, issues
from digest.config import Settings
from digest.db import session_scope
from digest.delivery import claims
from digest.delivery.compose import Composer
from digest.delivery.list_headers import list_headers, list_label
from digest.delivery.pacing import Pacer
from digest.models import Delivery, DeliveryStatus, Issue, IssueVariant
from digest.render import SIZE_BUDGET, RenderedEmail, lint_email, passed
from digest.transports import OutgoingEmail, make_transport
from tests.support.issue_data import (
    TOPICS,
    comparison_doc,
    import_docs,
    topical_week,
    topics_of_doc,
)
from tests.support.ledger import NOW, add_topic_readers, run_send
from tests.support.outbox import read_outbox

CARD = re.compile(r"https://site\.test/compare/([a-z0-9-]+)")
QUIET = "Robotics"  # a topic in the catalog with nothing this week


def import_week(engine: Engine, count: int) -> dict[str, set[str]]:
    """An old comparison in QUIET, then `count` this week across TOPICS; each new slug's
    topic names."""
    old = comparison_doc(90, NOW - timedelta(days=30), categories=(QUIET, QUIET))
    import_docs(engine, [old], now=NOW - timedelta(days=30))
    week = topical_week(NOW, count)
    import_docs(engine, week, now=NOW)
    return {doc["slug"]: topics_of_doc(doc) for doc in week}


def freeze(engine: Engine, settings: Settings) -> Issue:
    with session_scope(engine) as session:
        draft = issues.claim_issue(session, settings, now=NOW)
        return issues.freeze_issue(session, settings, draft, now=NOW)


def freeze_week(
    engine: Engine, settings: Settings, count: int
) -> tuple[Issue, dict[str, set[str]]]:
    slugs = import_week(engine, count)
    return freeze(engine, settings), slugs


def expected(slugs: dict[str, set[str]], chosen: set[str] | None) -> set[str]:
    return {slug for slug, names in slugs.items() if chosen is None or names & chosen}


def random_choices(count: int, rng: random.Random) -> list[set[str] | None]:
    """A fifth take every topic; the rest tick 1-4 of TOPICS + QUIET (some only QUIET)."""
    pool = [*TOPICS, QUIET]
    return [
        None if rng.random() < 0.2 else set(rng.sample(pool, rng.randint(1, 4)))
        for _ in range(count)
    ]


def drain(
    engine: Engine, settings: Settings, issue: Issue
) -> list[tuple[claims.Recipient, OutgoingEmail]]:
    """Every recipient's composed copy, claimed batch by batch as the workers would."""
    assert issue.id is not None
    built: list[tuple[claims.Recipient, OutgoingEmail]] = []
    with session_scope(engine) as session:
        composer = Composer(
            settings, issue, now=NOW, variants=issues.variants_of(session, issue.id)
        )
        while claim := claims.claim_batch(
            session, issue_id=issue.id, owner="t", now=NOW, lease=timedelta(minutes=5)
        ):
            built.extend(zip(claim.recipients, composer.build(claim), strict=True))
            if not claim.recipients:
                break
    return built


def test_ten_thousand_readers_get_exactly_their_topics(engine: Engine, settings: Settings) -> None:
    issue, slugs = freeze_week(engine, settings, 14)
    choices = random_choices(10_000, random.Random(13))
    with session_scope(engine) as session:
        readers = add_topic_readers(session, choices)
        claims.enqueue_issue(session, issue, settings=settings, batch_size=100, now=NOW)
        variants = session.exec(select(IssueVariant)).all()
        skipped = session.exec(
            select(Delivery).where(Delivery.status == DeliveryStatus.SKIPPED)
        ).all()
    wanted = {
        reader: expected(slugs, chosen) for reader, chosen in zip(readers, choices, strict=True)
    }
    distinct = {frozenset(chosen - {QUIET}) for chosen in choices if chosen and chosen - {QUIET}}
    assert len(variants) == len(distinct)  # one copy per topic set with news, never per reader
    for variant in variants:
        email = RenderedEmail(variant.subject, variant.preheader, variant.html, variant.text)
        assert len(variant.html.encode()) <= SIZE_BUDGET and passed(lint_email(email)), (
            variant.topic_key
        )
    assert {d.subscriber_id for d in skipped} == {r for r, cards in wanted.items() if not cards}
    assert {d.error for d in skipped} == {"nothing this week in the reader's topics"}
    named = {reader for n, reader in enumerate(readers) if n % 2}
    copies = drain(engine, settings, issue)
    assert sorted(recipient.subscriber_id for recipient, _ in copies) == sorted(
        r for r, cards in wanted.items() if cards
    )
    # Every copy, variant or not, is the same list and the same issue to the provider.
    assert {copy.headers["List-Id"] for _, copy in copies} == {
        list_headers(settings, issue_number=issue.number, kind="issue")["List-Id"]
    }
    assert {copy.headers["Feedback-ID"] for _, copy in copies} == {
        f"{issue.number}:issue:{list_label(settings)}"
    }
    for recipient, copy in copies:
        html_cards, text_cards = set(CARD.findall(copy.html)), set(CARD.findall(copy.text))
        assert html_cards == text_cards == wanted[recipient.subscriber_id], recipient
        assert ("Hi Reader &lt;" in copy.html) == (recipient.subscriber_id in named)
        assert copy.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "/unsubscribe/" in copy.headers["List-Unsubscribe"]


def test_a_variant_is_the_previewed_one_and_readers_of_every_topic_get_the_issue(
    engine: Engine, settings: Settings
) -> None:
    slugs = import_week(engine, 7)
    with session_scope(engine, read_only=True) as session:
        design = frozenset(t.id for t in catalog.resolve_slugs(session, ["design"]) if t.id)
        before = issues.preview_next_issue(session, settings, now=NOW, topics=design).email
    issue = freeze(engine, settings)
    with session_scope(engine) as session:
        add_topic_readers(session, [None, {"Design", QUIET}, {"Design"}, {QUIET}])
        claims.enqueue_issue(session, issue, settings=settings, batch_size=2, now=NOW)
        [variant] = session.exec(select(IssueVariant)).all()
        rows = session.exec(select(Delivery).order_by(col(Delivery.subscriber_id))).all()
    assert [row.variant_id for row in rows] == [None, variant.id, variant.id, None]
    assert [row.status for row in rows][-1] == DeliveryStatus.SKIPPED
    assert "Picked for your topics: Design " in variant.html
    assert "Picked for your topics" not in (issue.html or "")
    assert set(CARD.findall(variant.html)) == expected(slugs, {"Design"})
    frozen = (variant.subject, variant.preheader, variant.html, variant.text)
    assert frozen == (before.subject, before.preheader, before.html, before.text)


def test_variants_go_out_once_each_and_the_issue_finishes(
    engine: Engine, settings: Settings
) -> None:
    issue, _ = freeze_week(engine, settings, 7)
    choices: list[set[str] | None] = [None, {"Design"}, {"Video", "Writing"}, {QUIET}, {"Design"}]
    with session_scope(engine) as session:
        readers = add_topic_readers(session, choices)
        claims.enqueue_issue(session, issue, settings=settings, batch_size=2, now=NOW)
    assert issue.id is not None
    report = run_send(
        engine, settings, issue.id, make_transport(settings, observer=Pacer(1000).observe)
    )
    assert report.finished and report.counts == {"queued": 0, "sent": 4, "failed": 0, "skipped": 1}
    got = Counter(str(message["To"]) for message in read_outbox(settings.outbox_dir))
    assert got == {f"reader{n}@example.com": 1 for n in (0, 1, 2, 4)}
    with session_scope(engine, read_only=True) as session:
        names = session.exec(select(Delivery.name)).all()
    assert names == [None] * len(readers)  # the greeting names are dropped once sent
