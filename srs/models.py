"""Every table, imported in one place so Alembic and the app see the whole schema."""

from srs.accounts.models import AuthToken, PasswordResetToken, User
from srs.generation.models import CardEmbedding, DuplicateRejection, GenerationJob
from srs.imports.models import ImportJob
from srs.kit.db import Base
from srs.metering.models import ProcessedWebhookEvent, UsageCounter, UsageEvent
from srs.outline.models import Subtopic
from srs.rewrites.models import CardRewrite
from srs.sources.models import CardCitation, Passage, Source, SourceUsage
from srs.study.models import ReviewLog
from srs.topics.models import Card, Topic, TopicCardCount

__all__ = [
    "AuthToken",
    "Base",
    "Card",
    "CardCitation",
    "CardEmbedding",
    "CardRewrite",
    "DuplicateRejection",
    "GenerationJob",
    "ImportJob",
    "Passage",
    "PasswordResetToken",
    "ProcessedWebhookEvent",
    "ReviewLog",
    "Source",
    "SourceUsage",
    "Subtopic",
    "Topic",
    "TopicCardCount",
    "UsageCounter",
    "UsageEvent",
    "User",
]
