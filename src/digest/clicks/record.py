"""Record one hit on a tracked link: what it was, never who. Signals that can be judged at
the hit are noted on it (classify.py judges the rest when figures are read).

Nothing is recorded once the issue's window has closed (its key is gone): after that only the
counts remain, as promised. The redirect itself never depends on recording.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert
from sqlmodel import Session, col, select

from digest.clicks import agents, tags
from digest.clicks.keys import CANARY, PIXEL, load_key
from digest.config import ClickTracking, Settings
from digest.models import Batch, ClickHit, Issue, ReaderClick, Subscriber


class Signal:
    """Why a hit is a machine's, as far as the hit alone tells."""

    HEAD = "head"  # a HEAD request: a link checker, never a person's click
    AGENT = "agent"  # a scanner, library or headless browser by its user agent
    CANARY = "canary"  # the hidden link nobody can see
    EARLY = "early"  # before the batch carrying this email was even answered by the provider
    UNTAGGED = "untagged"  # no valid delivery tag: altered, or not from an email we sent
    PROXY = "proxy"  # an image proxy fetching the pixel (Apple MPP, Gmail): not an open


@dataclass(frozen=True)
class Request:
    method: str
    ip: str
    user_agent: str
    tag: str | None


@dataclass(frozen=True)
class PendingHit:
    """A hit as the redirect saw it, until it is written (raw IP and agent live only here)."""

    link: tags.TrackedLink
    request: Request
    at: datetime


def record_hit(
    session: Session, settings: Settings, link: tags.TrackedLink, request: Request, *, now: datetime
) -> bool:
    """Store one hit while the window is open; True if stored."""
    return record_hits(session, settings, [PendingHit(link, request, now)]) == 1


def record_hits(session: Session, settings: Settings, pending: Sequence[PendingHit]) -> int:
    """Store many hits in one transaction (the redirect queues them: web/hit_writer.py), with
    one key query per issue and one batch query for all; returns how many were stored."""
    keys = {i: load_key(session, i) for i in {hit.link.issue_id for hit in pending}}
    read = {id(hit): _read(keys, settings, hit) for hit in pending}
    finished = batches_finished(session, [t.batch_id for t in read.values() if t.batch_id])
    rows: list[dict[str, object]] = []
    for hit in pending:
        key, tag = keys[hit.link.issue_id], read[id(hit)]
        if key is None:  # the window has closed: only counts remain
            continue
        signals = hit_signals(hit, tag, finished.get(tag.batch_id or 0, NOT_FOUND))
        rows.append(
            {
                "issue_id": hit.link.issue_id,
                "link_id": hit.link.link_id,
                "delivery_hash": tag.delivery_hash,
                "client_hash": tags.client_hash(key, hit.request.ip, hit.request.user_agent),
                "method": hit.request.method[:8],
                "signals": ",".join(signals),
                "at": hit.at,
            }
        )
        if settings.track_clicks is ClickTracking.CONSENTED and tag.reader_id and not signals:
            record_reader_click(session, hit.link, tag.reader_id, now=hit.at)
    if rows:  # one executemany, in arrival order (ids follow it)
        session.execute(insert(ClickHit), rows)
    return len(rows)


def _read(keys: dict[int, bytes | None], settings: Settings, hit: PendingHit) -> tags.Tag:
    key = keys[hit.link.issue_id]
    return (
        tags.read_tag(key, settings.secret, hit.request.tag) if key else tags.Tag(None, None, None)
    )


NOT_FOUND = datetime.max.replace(tzinfo=UTC)  # no such batch: as if never answered


def batches_finished(session: Session, batch_ids: Iterable[int]) -> dict[int, datetime]:
    """When each batch's answer was recorded (far future if not yet)."""
    ids = sorted(set(batch_ids))
    if not ids:
        return {}
    rows = session.exec(select(Batch.id, Batch.finished_at).where(col(Batch.id).in_(ids))).all()
    return {i: at or NOT_FOUND for i, at in rows if i is not None}


def hit_signals(hit: PendingHit, tag: tags.Tag, batch_finished: datetime) -> list[str]:
    link, request = hit.link, hit.request
    signals = []
    if request.method.upper() == "HEAD":
        signals.append(Signal.HEAD)
    if link.link_id == PIXEL:
        if agents.is_image_proxy(request.user_agent, request.ip):
            signals.append(Signal.PROXY)
    elif agents.is_machine(request.user_agent):
        signals.append(Signal.AGENT)
    if link.link_id == CANARY:
        signals.append(Signal.CANARY)
    if tag.delivery_hash is None:
        signals.append(Signal.UNTAGGED)
    elif batch_finished > hit.at:  # before the provider had answered for the batch
        signals.append(Signal.EARLY)
    return signals


def record_reader_click(
    session: Session, link: tags.TrackedLink, subscriber_id: int, *, now: datetime
) -> None:
    """Only while the reader's consent stands: a withdrawn consent stops it at once."""
    reader = session.get(Subscriber, subscriber_id)
    if reader is None or reader.click_consent_at is None or link.link_id <= CANARY:
        return
    if session.get(Issue, link.issue_id) is None:
        return
    session.add(
        ReaderClick(
            subscriber_id=subscriber_id, issue_id=link.issue_id, link_id=link.link_id, at=now
        )
    )
