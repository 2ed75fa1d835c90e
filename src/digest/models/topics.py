"""Topics: the tool categories readers choose from, and which topics each reader chose.

A topic is born from a category the site gives its tools ("Developer Tools"); `topic_category`
maps every category string ever seen to its topic, so an editor can rename a topic (the old
category still maps to it) or merge one into another (its categories follow; the merged topic
stays as a tombstone pointing at its successor, so an old form or link still resolves).
A reader with no `subscriber_topic` row gets every topic, new ones included.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from digest.models.base import utc_field


class Topic(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=120, unique=True)  # stable: a rename keeps it (forms, API)
    name: str = Field(max_length=120, unique=True)
    # Set once merged: the topic it became; it is never offered again, but resolves to it.
    merged_into_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("topic.id", ondelete="SET NULL"), nullable=True),
    )
    created_at: datetime = utc_field(default_now=True)


class TopicCategory(SQLModel, table=True):
    """A category string as the site writes it (case-folded), and the topic it belongs to."""

    __tablename__ = "topic_category"

    category: str = Field(max_length=120, primary_key=True)
    topic_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("topic.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )


class SubscriberTopic(SQLModel, table=True):
    """One topic a reader chose. No rows for a reader: every topic, new ones included."""

    __tablename__ = "subscriber_topic"

    subscriber_id: int = Field(
        sa_column=Column(Integer, ForeignKey("subscriber.id", ondelete="CASCADE"), primary_key=True)
    )
    topic_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("topic.id", ondelete="CASCADE"), primary_key=True, index=True
        )
    )
