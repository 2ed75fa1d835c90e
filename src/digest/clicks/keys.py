"""An issue's click key and its tracked links, and what the sender needs to rewrite a copy.

The key is random per issue and lives until the click window closes (window.py deletes it).
Link ids are small numbers inside the issue: 0 is the canary, -1 the open pixel, and each
comparison gets its position + 1, so a token names a link without naming any row id.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel, col, select

from digest.catalog import load_views
from digest.clicks import rewrite, tags
from digest.config import ClickTracking, Settings, Switch
from digest.errors import Conflict
from digest.models import (
    ClickKey,
    ClickLink,
    Comparison,
    Issue,
    IssueComparison,
    LinkKind,
    Subscriber,
)

CANARY = 0
PIXEL = -1


@dataclass(frozen=True)
class IssueTracking:
    """Everything the sender needs to rewrite an issue's copies and tag each recipient's."""

    secret: str
    key: bytes
    targets: dict[str, str]  # original URL -> its /r/{token} URL
    canary: str
    pixel: str | None
    consenting: frozenset[int] = field(default_factory=frozenset)

    def html(self, body: str) -> str:
        return rewrite.rewrite_html(body, self.targets, canary=self.canary, pixel=self.pixel)

    def text(self, body: str) -> str:
        return rewrite.rewrite_text(body, self.targets)

    def tag(self, *, subscriber_id: int, delivery_id: int, batch_id: int) -> str:
        tag = tags.delivery_tag(self.key, delivery_id=delivery_id, batch_id=batch_id)
        if subscriber_id in self.consenting:
            tag += "~" + tags.reader_part(self.secret, subscriber_id)
        return tag


def prepare_tracking(session: Session, settings: Settings, issue: Issue) -> IssueTracking | None:
    """The issue's tracking as of its freezing (so every attempt builds the same payload), or
    None with DIGEST_TRACK_CLICKS=off. Creates the key and the link rows the first time."""
    if settings.track_clicks is ClickTracking.OFF:
        return None
    if issue.id is None or issue.frozen_at is None:
        raise Conflict(f"issue #{issue.number} is not frozen yet")
    key = issue_key(session, issue.id, closes_at=closing_time(settings, issue.frozen_at))
    links = register_links(session, settings, issue)
    expires = (issue.frozen_at + timedelta(days=settings.click_link_days)).date()

    def url(link_id: int, target: str) -> str:
        token = tags.sign_link(
            settings.secret, issue_id=issue.id or 0, link_id=link_id, url=target, expires=expires
        )
        return f"{settings.base_url}/r/{token}"

    targets = {link.url: url(link.link_id, link.url) for link in links}
    pixel = url(PIXEL, archive_url(settings, issue)) if settings.track_opens is Switch.ON else None
    return IssueTracking(
        secret=settings.secret,
        key=key,
        targets=targets,
        canary=url(CANARY, archive_url(settings, issue)),
        pixel=pixel,
        consenting=consenting_readers(session, settings),
    )


def closing_time(settings: Settings, frozen_at: datetime) -> datetime:
    return frozen_at + timedelta(days=settings.click_window_days)


def archive_url(settings: Settings, issue: Issue) -> str:
    return f"{settings.base_url}/issues/{issue.number}"


def issue_key(session: Session, issue_id: int, *, closes_at: datetime) -> bytes:
    """The issue's key, made once (racing senders agree on the first one stored)."""
    insert_once(
        session, ClickKey, issue_id=issue_id, secret=secrets.token_hex(32), closes_at=closes_at
    )
    row = session.get(ClickKey, issue_id)
    assert row is not None
    return bytes.fromhex(row.secret)


def load_key(session: Session, issue_id: int) -> bytes | None:
    """The key while the issue's window is open; None once it has closed."""
    row = session.exec(select(ClickKey.secret).where(col(ClickKey.issue_id) == issue_id)).first()
    return bytes.fromhex(row) if row else None


def register_links(session: Session, settings: Settings, issue: Issue) -> list[ClickLink]:
    """One row per comparison the issue carries (variants carry a subset of the same links)."""
    rows = session.exec(
        select(IssueComparison, Comparison)
        .join(Comparison, col(Comparison.id) == col(IssueComparison.comparison_id))
        .where(col(IssueComparison.issue_id) == issue.id)
        .order_by(col(IssueComparison.position))
    ).all()
    views = load_views(session, [comparison for _, comparison in rows])
    links = [
        ClickLink(
            issue_id=issue.id or 0,
            link_id=entry.position + 1,
            kind=LinkKind.COMPARISON,
            comparison_id=view.comparison.id,
            url=view.link(settings.site_url),
            label=view.comparison.title[:300],
        )
        for (entry, _), view in zip(rows, views, strict=True)
    ]
    special = [(CANARY, LinkKind.CANARY, "canary"), (PIXEL, LinkKind.PIXEL, "open pixel")]
    for link_id, kind, label in special:
        links.append(
            ClickLink(
                issue_id=issue.id or 0,
                link_id=link_id,
                kind=kind,
                url=archive_url(settings, issue),
                label=label,
            )
        )
    for link in links:
        insert_once(session, ClickLink, **link.model_dump())
    return [link for link in links if link.kind == LinkKind.COMPARISON]


def consenting_readers(session: Session, settings: Settings) -> frozenset[int]:
    if settings.track_clicks is not ClickTracking.CONSENTED:
        return frozenset()
    query = select(Subscriber.id).where(col(Subscriber.click_consent_at).is_not(None))
    return frozenset(i for i in session.exec(query).all() if i is not None)


def insert_once(session: Session, model: type[SQLModel], **values: object) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING on either engine; True if this call stored the row."""
    table = model.__table__  # type: ignore[attr-defined]
    build = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = build(table).values(**values).on_conflict_do_nothing()
    key = next(iter(table.primary_key.columns))
    return session.execute(statement.returning(key)).first() is not None
