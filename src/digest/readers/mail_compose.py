"""What each transactional message says, rendered from templates/email/{kind}.mjml.j2 and .txt.j2.

Nothing a visitor typed goes into the confirmation and link emails (not even the name): they go
to an address anyone could have typed, so they must not carry an attacker's words to a
stranger's inbox. Only their links differ from one reader to the next, so each kind is compiled
once per settings with link markers and filled per message (`link_body`): a full Jinja and MJML
render per message cost more than the rest of a signup. The welcome goes to a reader who just
proved they own the mailbox, so it greets them by the name they confirmed, through the personal
markers like the weekly issue: its body is compiled once per (issue, topic set) and filled per
recipient.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from digest import catalog, issues, links
from digest.config import Settings
from digest.models import Issue, MessageKind, Subscriber, SubscriberStatus, TransactionalMessage
from digest.readers import topics
from digest.render import (
    CompiledBody,
    LatestIssue,
    RenderedEmail,
    compile_body,
    compile_links,
    link_values,
    markers,
    personal_values,
    render_email,
    render_welcome,
)
from digest.transports import OutgoingEmail

# Who may still receive each kind: a confirmation only goes to someone not yet (re)confirmed.
RECIPIENTS = {
    MessageKind.CONFIRM: frozenset({SubscriberStatus.PENDING, SubscriberStatus.UNSUBSCRIBED}),
    MessageKind.MANAGE: frozenset(
        {SubscriberStatus.PENDING, SubscriberStatus.CONFIRMED, SubscriberStatus.UNSUBSCRIBED}
    ),
    MessageKind.DATA: frozenset(
        {SubscriberStatus.PENDING, SubscriberStatus.CONFIRMED, SubscriberStatus.UNSUBSCRIBED}
    ),
    MessageKind.WELCOME: frozenset({SubscriberStatus.CONFIRMED}),
}
MAX_BODIES = 64
_BODIES: OrderedDict[tuple[object, ...], object] = OrderedDict()
_BODIES_LOCK = threading.Lock()
# Each reader's links, by the field the templates print them as.
LINKS: dict[str, Callable[..., str]] = {
    "confirm_url": links.confirm_url,
    "preferences_url": links.preferences_url,
    "data_url": links.data_url,
}


@dataclass(frozen=True)
class LinkBody:
    """A confirmation or data-link email compiled with its link markers, for `fill`."""

    subject: str
    html: CompiledBody  # from `compile_links`: filled with `link_values`
    text: CompiledBody  # filled with the plain links
    links: frozenset[str]  # the LINKS either part carries: only those are signed per message


@dataclass(frozen=True)
class Welcome:
    """What a welcome carries, read from the store while the message is claimed."""

    issue: Issue | None  # the latest issue when it was queued, if any
    topic_ids: frozenset[int] | None  # the reader's topics; None for every topic
    topic_names: tuple[str, ...] | None
    views: tuple[catalog.ComparisonView, ...]  # the issue's comparisons in those topics


def load_welcome(
    session: Session, message: TransactionalMessage, subscriber: Subscriber
) -> Welcome:
    issue = session.get(Issue, message.issue_id) if message.issue_id is not None else None
    assert subscriber.id is not None
    choice = topics.choice_of(session, subscriber.id)
    chosen = topics.chosen_topics(session, subscriber.id)
    names = tuple(topic.name for topic in chosen) if chosen is not None else None
    composition = issues.carried_composition(session, issue) if issue else None
    views = composition.all if composition else ()
    if composition and choice.topic_ids is not None:
        ids = [view.comparison.id for view in views if view.comparison.id is not None]
        by_topic = catalog.comparison_topics(session, ids)
        views = tuple(v for v in views if by_topic[v.comparison.id or 0] & choice.topic_ids)
    return Welcome(issue, choice.topic_ids, names, views)


def compose(
    settings: Settings,
    message: TransactionalMessage,
    subscriber: Subscriber,
    welcome: Welcome | None = None,
) -> OutgoingEmail | None:
    """The email for `message`, or None when its reader may no longer receive it. A welcome
    needs what `load_welcome` read for it."""
    kind = MessageKind(message.kind)
    if subscriber.email is None or subscriber.status not in RECIPIENTS[kind]:
        return None
    assert subscriber.id is not None
    if kind is MessageKind.WELCOME:
        assert welcome is not None, "a welcome needs load_welcome's content"
        return compose_welcome(settings, message, subscriber, welcome)
    body = link_body(settings, kind)
    plain = _links(settings, subscriber.id, subscriber.email_hash, message.created_at, body.links)
    return OutgoingEmail(
        reference=message.reference,
        to=subscriber.email,
        from_email=settings.from_email,
        subject=body.subject,
        html=body.html.fill(link_values(plain, body.html.fields)),
        text=body.text.fill(plain),
        headers={"Auto-Submitted": "auto-generated"},
        tags={"kind": kind.value},
    )


def link_body(settings: Settings, kind: MessageKind) -> LinkBody:
    """The `kind` email with link markers, rendered once per settings and kept."""
    body = _cached(("links", kind, settings), lambda: _render_links(settings, kind))
    assert isinstance(body, LinkBody)
    return body


def _render_links(settings: Settings, kind: MessageKind) -> LinkBody:
    context = {
        "newsletter_name": settings.newsletter_name,
        "postal_address": settings.postal_address,
        "expires_days": settings.confirm_max_age_days,
        "data_minutes": settings.data_link_minutes,
        **markers(LINKS),
        **SUBJECTS[kind](settings),
    }
    rendered = render_email(kind.value, context)
    carried = frozenset(
        field
        for field, marker in markers(LINKS).items()
        if marker in rendered.html or marker in rendered.text
    )
    return LinkBody(
        rendered.subject, compile_links(rendered.html), compile_body(rendered.text), carried
    )


def _cached(key: tuple[object, ...], render: Callable[[], object]) -> object:
    """The body kept under `key`, else `render()`'s, kept for next time (the newest
    MAX_BODIES)."""
    with _BODIES_LOCK:
        body = _BODIES.get(key)
    if body is None:
        body = render()
        with _BODIES_LOCK:
            _BODIES[key] = body
            while len(_BODIES) > MAX_BODIES:
                _BODIES.popitem(last=False)
    return body


def _links(
    settings: Settings,
    reader: int,
    fingerprint: str,
    made: datetime,
    fields: frozenset[str] | None = None,
) -> dict[str, str]:
    """The reader's links (those in `fields`, else all), stamped with the message's creation
    time: every retry renders the same bytes (and a data link's few minutes count from when it
    was asked for). Each link is a signed token: only those the email carries are made."""
    return {
        field: link(settings, reader, email_hash=fingerprint, now=made)
        for field, link in LINKS.items()
        if fields is None or field in fields
    }


def _confirm_subject(settings: Settings) -> dict[str, str]:
    return {
        "subject": f"Confirm your subscription to {settings.newsletter_name}",
        "preheader": "One click and the next issue is yours.",
    }


def _manage_subject(settings: Settings) -> dict[str, str]:
    return {
        "subject": f"Your {settings.newsletter_name} settings link",
        "preheader": "Change your name, unsubscribe, download or erase your data.",
    }


def _data_subject(settings: Settings) -> dict[str, str]:
    return {
        "subject": f"Your data at {settings.newsletter_name}",
        "preheader": "The link to download or erase it, valid for a short while.",
    }


SUBJECTS = {
    MessageKind.CONFIRM: _confirm_subject,
    MessageKind.MANAGE: _manage_subject,
    MessageKind.DATA: _data_subject,
}


def compose_welcome(
    settings: Settings, message: TransactionalMessage, subscriber: Subscriber, welcome: Welcome
) -> OutgoingEmail:
    """The welcome body (compiled once per issue and topic set), filled for this reader. Links
    count from the message's creation and the next issue's time was stored with it, so every
    retry is the same payload."""
    assert subscriber.id is not None and subscriber.email is not None
    body = welcome_body(settings, welcome, message.next_issue_at)
    plain = links.recipient_values(
        settings, subscriber.id, email_hash=subscriber.email_hash, now=message.created_at
    )
    html, text = personal_values(plain, subscriber.name)
    return OutgoingEmail(
        reference=message.reference,
        to=subscriber.email,
        from_email=settings.from_email,
        subject=body.subject,
        html=compile_body(body.html).fill(html),
        text=compile_body(body.text).fill(text),
        headers={
            "Auto-Submitted": "auto-generated",
            "List-Unsubscribe": f"<{plain['unsubscribe_url']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        tags={"kind": MessageKind.WELCOME.value},
    )


def welcome_body(
    settings: Settings, welcome: Welcome, next_issue: datetime | None
) -> RenderedEmail:
    """The welcome with its markers, rendered once per (issue, topic set, next issue) and kept
    for the next reader who confirms before anything changes."""
    issue_id = welcome.issue.id if welcome.issue else None
    key = (settings, issue_id, welcome.topic_names, next_issue)
    body = _cached(key, lambda: _render_welcome(settings, welcome, next_issue))
    assert isinstance(body, RenderedEmail)
    return body


def _render_welcome(
    settings: Settings, welcome: Welcome, next_issue: datetime | None
) -> RenderedEmail:
    issue = welcome.issue
    latest = (
        LatestIssue(issue.number, issue.frozen_at, welcome.views)
        if issue is not None and issue.frozen_at is not None
        else None
    )
    return render_welcome(
        settings,
        latest=latest,
        next_issue=issues.describe_moment(settings, next_issue),
        schedule=issues.describe_schedule(settings),
        topics=welcome.topic_names,
    )
