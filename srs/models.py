"""Every table, imported in one place so Alembic and the app see the whole schema."""

from srs.accounts.models import AuthToken, User
from srs.generation.models import GenerationJob
from srs.kit.db import Base
from srs.metering.models import ProcessedWebhookEvent, UsageCounter, UsageEvent
from srs.outline.models import Subtopic
from srs.study.models import ReviewLog
from srs.topics.models import Card, Topic

__all__ = [
    "AuthToken",
    "Base",
    "Card",
    "GenerationJob",
    "ProcessedWebhookEvent",
    "ReviewLog",
    "Subtopic",
    "Topic",
    "UsageCounter",
    "UsageEvent",
    "User",
]
