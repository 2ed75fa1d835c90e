"""Record one hit on a tracked link: what it was, never who. Signals that can be judged at
the hit are noted on it (classify.py judges the rest when figures are read).

Nothing is recorded once the issue's window has closed (its key is gone): after that only the
counts remain, as promised. The redirect itself never depends on recording.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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


def record_hit(
    session: Session, settings: Settings, link: tags.TrackedLink, request: Request, *, now: datetime
) -> bool:
    """Store the hit while the window is open; True if stored."""
    key = load_key(session, link.issue_id)
    if key is None:
        return False
    tag = tags.read_tag(key, settings.secret, request.tag)
    signals = hit_signals(session, link, request, tag, now=now)
    session.add(
        ClickHit(
            issue_id=link.issue_id,
            link_id=link.link_id,
            delivery_hash=tag.delivery_hash,
            client_hash=tags.client_hash(key, request.ip, request.user_agent),
            method=request.method[:8],
            signals=",".join(signals),
            at=now,
        )
    )
    if settings.track_clicks is ClickTracking.CONSENTED and tag.reader_id and not signals:
        record_reader_click(session, link, tag.reader_id, now=now)
    return True


def hit_signals(
    session: Session, link: tags.TrackedLink, request: Request, tag: tags.Tag, *, now: datetime
) -> list[str]:
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
    elif before_delivery(session, link.issue_id, tag.batch_id, now=now):
        signals.append(Signal.EARLY)
    return signals


def before_delivery(
    session: Session, issue_id: int, batch_id: int | None, *, now: datetime
) -> bool:
    """True if the email's batch had no recorded answer from the provider at `now`."""
    finished = session.exec(
        select(Batch.finished_at).where(col(Batch.id) == batch_id, col(Batch.issue_id) == issue_id)
    ).first()
    return finished is None or finished > now


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
