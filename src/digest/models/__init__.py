"""SQLModel tables and status enums, one module per concept, re-exported here.

Importing this package registers every table on `metadata` (Alembic and create_all rely on it).
"""

from digest.models.base import metadata
from digest.models.catalog import Comparison, ComparisonTool, Persona, Review, Tool, Verdict
from digest.models.deliveries import Batch, BatchStatus, Delivery, DeliveryStatus
from digest.models.events import (
    DeliveryMark,
    MessageKind,
    MessageStatus,
    RateCounter,
    TransactionalMessage,
    WebhookEvent,
)
from digest.models.issues import Issue, IssueComparison, IssueStatus
from digest.models.subscribers import ConsentRoute, Subscriber, SubscriberStatus

__all__ = [
    "Batch",
    "BatchStatus",
    "Comparison",
    "ComparisonTool",
    "ConsentRoute",
    "Delivery",
    "DeliveryMark",
    "DeliveryStatus",
    "Issue",
    "IssueComparison",
    "IssueStatus",
    "MessageKind",
    "MessageStatus",
    "Persona",
    "RateCounter",
    "Review",
    "Subscriber",
    "SubscriberStatus",
    "Tool",
    "TransactionalMessage",
    "Verdict",
    "WebhookEvent",
    "metadata",
]
