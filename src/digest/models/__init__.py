"""SQLModel tables and status enums, one module per concept, re-exported here.

    base.py         the naming convention and the UTC timestamp column helper
    catalog.py      Tool, Review, Comparison, ComparisonTool; Persona, Verdict
    issues.py       Issue, IssueComparison, IssueVariant (a copy per topic set); IssueStatus
    subscribers.py  Subscriber; SubscriberStatus, ConsentRoute
    deliveries.py   the send ledger: Batch, Delivery, DeliveryMark (what the provider said),
                    EnqueueProgress (how far an issue's enqueue has got),
                    LedgerTally (an old issue's ledger folded into counts)
    messages.py     TransactionalMessage (readers' own mail); MessageKind, MessageStatus
    requests.py     ReaderRequest (a web request for a reader's mail, until acted on); RequestKind
    events.py       RateCounter (abuse counters), WebhookEvent (provider events applied once),
                    EditorSession (revocable editor logins)
    desk.py         EditorAccount, AuditEntry, SendRequest (the editor's desk); SendRequestKind
    tallies.py      IssueTally: a sent issue's desk figures, counted once and kept
    clicks.py       ClickKey, ClickLink, ClickHit (open window), ClickCount, ClickTotal (after),
                    ReaderClick (consenting readers only), ProviderCount; LinkKind
    health.py       SendHealth: the running totals the send's circuit breaker reads
    topics.py       Topic (from tool categories), TopicCategory, SubscriberTopic (readers' choice)

Rule: importing this package registers every table on `metadata` (Alembic and create_all rely
on it); import models from here, not from the modules.
"""

from digest.models.base import metadata
from digest.models.catalog import Comparison, ComparisonTool, Persona, Review, Tool, Verdict
from digest.models.clicks import (
    ClickCount,
    ClickHit,
    ClickKey,
    ClickLink,
    ClickTotal,
    LinkKind,
    ProviderCount,
    ReaderClick,
)
from digest.models.deliveries import (
    Batch,
    BatchStatus,
    Delivery,
    DeliveryMark,
    DeliveryStatus,
    EnqueueProgress,
    LedgerTally,
)
from digest.models.desk import AuditEntry, EditorAccount, SendRequest, SendRequestKind
from digest.models.events import EditorSession, RateCounter, WebhookEvent
from digest.models.health import SendHealth
from digest.models.issues import Issue, IssueComparison, IssueStatus, IssueVariant
from digest.models.messages import MessageKind, MessageStatus, TransactionalMessage
from digest.models.requests import ReaderRequest, RequestKind
from digest.models.subscribers import ConsentRoute, Subscriber, SubscriberStatus
from digest.models.tallies import IssueTally
from digest.models.topics import SubscriberTopic, Topic, TopicCategory

__all__ = [
    "AuditEntry",
    "Batch",
    "BatchStatus",
    "ClickCount",
    "ClickHit",
    "ClickKey",
    "ClickLink",
    "ClickTotal",
    "Comparison",
    "ComparisonTool",
    "ConsentRoute",
    "Delivery",
    "DeliveryMark",
    "DeliveryStatus",
    "EditorAccount",
    "EditorSession",
    "EnqueueProgress",
    "Issue",
    "IssueComparison",
    "IssueStatus",
    "IssueTally",
    "IssueVariant",
    "LedgerTally",
    "LinkKind",
    "MessageKind",
    "MessageStatus",
    "Persona",
    "ProviderCount",
    "RateCounter",
    "ReaderClick",
    "ReaderRequest",
    "RequestKind",
    "Review",
    "SendHealth",
    "SendRequest",
    "SendRequestKind",
    "Subscriber",
    "SubscriberStatus",
    "SubscriberTopic",
    "Tool",
    "Topic",
    "TopicCategory",
    "TransactionalMessage",
    "Verdict",
    "WebhookEvent",
    "metadata",
]
