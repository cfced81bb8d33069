"""Every table, imported in one place so Alembic and the app see the whole schema."""

from srs.accounts.models import AuthToken, User
from srs.generation.models import GenerationJob
from srs.kit.db import Base
from srs.study.models import ReviewLog
from srs.topics.models import Card, Topic

__all__ = ["Base", "User", "AuthToken", "Topic", "Card", "ReviewLog", "GenerationJob"]
