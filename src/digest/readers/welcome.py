"""Confirming a subscription, and the one welcome email that follows it.

The welcome is queued in the confirmation's own transaction, only when this confirmation is the
one that made the reader CONFIRMED (the row is locked first, so a double click or two racing
requests queue one), and sent through the transactional mail queue: right after the answer, and
retried under the same reference after a crash or a refusal. No welcome when the weekly issue
is due within DIGEST_WELCOME_SKIP_HOURS anyway; when it is due is `issues.next_issue_at`, the
answer the front page and the editor's page give too.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from digest import issues
from digest.config import Settings
from digest.errors import NotFound
from digest.models import MessageKind, Subscriber, SubscriberStatus
from digest.readers import mail_queue, subscriptions


def welcome_due(settings: Settings, next_issue: datetime | None, *, now: datetime) -> bool:
    """False while the next weekly issue (`issues.next_issue_at`) is closer than
    DIGEST_WELCOME_SKIP_HOURS."""
    skip = timedelta(hours=settings.welcome_skip_hours)
    return next_issue is None or next_issue - now > skip


def confirm_and_welcome(
    session: Session, subscriber_id: int, *, settings: Settings, now: datetime
) -> tuple[Subscriber, mail_queue.Held | None]:
    """Confirm the reader; the welcome to send after the commit, if this confirmation earns one."""
    before = subscriptions.lock_subscriber(session, subscriber_id)
    if before is None:
        raise NotFound(f"no subscriber with id {subscriber_id}")
    already = before.status == SubscriberStatus.CONFIRMED
    subscriber = subscriptions.confirm_subscriber(session, subscriber_id, now=now)
    if already:
        return subscriber, None
    next_issue = issues.next_issue_at(session, settings, now=now)
    if not welcome_due(settings, next_issue, now=now):
        return subscriber, None
    latest = issues.latest_published(session)
    message = mail_queue.queue_message(
        session,
        subscriber,
        MessageKind.WELCOME,
        now=now,
        hold=True,
        issue_id=latest.id if latest else None,
        next_issue_at=next_issue,
    )
    return subscriber, mail_queue.Held(message, subscriber)
