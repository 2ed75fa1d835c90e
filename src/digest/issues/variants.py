"""Topic variants: the week's issue as readers of one topic set get it.

A variant holds only the week's comparisons in its topics, in the issue's order (newest first),
with the same rules as the issue itself: the first DIGEST_MAX_COMPARISONS get a full card, the
rest are listed, and cards move to the list until it fits the size budget. It is rendered and
frozen once per distinct topic set (`freeze_variants`, when the issue is enqueued), never per
reader. The key is the set of the reader's topics that have something this week, so readers
who chose {A, B} and {A, B, C} in a week without C share one variant.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from digest import catalog
from digest.catalog import ComparisonView
from digest.clicks import readers_pick
from digest.config import Settings
from digest.issues.compose import Composition
from digest.issues.freeze import fit_issue
from digest.models import Comparison, Issue, IssueComparison, IssueVariant
from digest.render import RenderedEmail

TopicSet = frozenset[int]


def topic_key(topic_ids: Iterable[int]) -> str:
    """The stored key of a topic set: its ids, sorted, comma-separated ("3,5")."""
    return ",".join(str(topic_id) for topic_id in sorted(set(topic_ids)))


def parse_key(key: str) -> TopicSet:
    return frozenset(int(part) for part in key.split(",") if part.isdigit())


def topics_of(session: Session, views: Sequence[ComparisonView]) -> dict[int, TopicSet]:
    """Each comparison's topics (by comparison id)."""
    ids = [view.comparison.id for view in views if view.comparison.id is not None]
    return catalog.comparison_topics(session, ids)


def select_for_topics(
    composition: Composition,
    topics: dict[int, TopicSet],
    chosen: TopicSet,
    *,
    max_comparisons: int,
) -> Composition | None:
    """The comparisons of `composition` in any of `chosen`, in order, split by the issue's
    rule (full cards first); None when there are none."""
    picked = [
        view for view in composition.all if topics.get(view.comparison.id or 0, set()) & chosen
    ]
    if not picked:
        return None
    cut = max_comparisons
    return Composition(
        composition.window_start, composition.cutoff, tuple(picked[:cut]), tuple(picked[cut:])
    )


def render_variant(
    session: Session,
    settings: Settings,
    issue: Issue,
    composition: Composition,
    chosen: TopicSet,
    *,
    now: datetime,
) -> tuple[RenderedEmail, Composition] | None:
    """The variant of `composition` for `chosen`, fitted; None when nothing is in those topics.
    Previews and freezing both come through here, so a previewed variant is the sent one."""
    topics = topics_of(session, composition.all)
    week = frozenset().union(*topics.values()) if topics else frozenset()
    picked = select_for_topics(
        composition, topics, chosen & week, max_comparisons=settings.max_comparisons
    )
    if picked is None:
        return None
    names = catalog.names_of(session, chosen & week)
    pick = readers_pick(session, settings, number=issue.number)
    return fit_issue(settings, issue, picked, now=now, topics=names, pick=pick)


def carried_composition(session: Session, issue: Issue) -> Composition | None:
    """A frozen issue's comparisons as composed (all of them, in order); None if it has none."""
    rows = session.exec(
        select(IssueComparison)
        .where(col(IssueComparison.issue_id) == issue.id)
        .order_by(col(IssueComparison.position))
    ).all()
    if not rows or issue.window_start is None or issue.cutoff is None:
        return None
    ids = [row.comparison_id for row in rows]
    comparisons = session.exec(select(Comparison).where(col(Comparison.id).in_(ids))).all()
    views = {view.comparison.id: view for view in catalog.load_views(session, comparisons)}
    ordered = tuple(views[row.comparison_id] for row in rows if row.comparison_id in views)
    return Composition(issue.window_start, issue.cutoff, ordered, ())


def week_topics(session: Session, issue: Issue) -> TopicSet:
    """Every topic a frozen issue carries something in."""
    composition = carried_composition(session, issue)
    if composition is None:
        return frozenset()
    topics = topics_of(session, composition.all)
    return frozenset().union(*topics.values()) if topics else frozenset()


def freeze_variants(
    session: Session, settings: Settings, issue: Issue, topic_sets: Iterable[TopicSet]
) -> dict[TopicSet, int]:
    """Render and store one copy per topic set, once (an existing variant is reused); returns
    each set's variant id. Sets with nothing this week get none. The caller holds the issue's
    lock (enqueueing does), so two processes never store the same variant."""
    assert issue.id is not None and issue.frozen_at is not None
    stored = {row.topic_key: row.id for row in variants_of(session, issue.id) if row.id}
    composition = carried_composition(session, issue)
    found: dict[TopicSet, int] = {}
    for chosen in set(topic_sets):
        key = topic_key(chosen)
        if key in stored:
            found[chosen] = stored[key]
            continue
        if composition is None:
            continue
        rendered = render_variant(
            session, settings, issue, composition, chosen, now=issue.frozen_at
        )
        if rendered is not None:
            found[chosen] = _store(session, issue, key, rendered[0], now=issue.frozen_at)
    return found


def _store(session: Session, issue: Issue, key: str, email: RenderedEmail, *, now: datetime) -> int:
    assert issue.id is not None
    variant = IssueVariant(
        issue_id=issue.id,
        topic_key=key,
        subject=email.subject,
        preheader=email.preheader,
        html=email.html,
        text=email.text,
        created_at=now,
    )
    session.add(variant)
    session.flush()
    assert variant.id is not None
    return variant.id


def variants_of(session: Session, issue_id: int) -> list[IssueVariant]:
    """An issue's stored variants (for the sender, which compiles each body once)."""
    return list(session.exec(select(IssueVariant).where(IssueVariant.issue_id == issue_id)).all())
