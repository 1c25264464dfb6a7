"""Persistence: SQLAlchemy 2 (async) tables, Alembic migrations, and repositories.

SQLite under the data dir by default; any SQLAlchemy async URL (PostgreSQL) when configured.
"""

from thinkgate.store.background_jobs import BackgroundJobRepository
from thinkgate.store.conversations import ConversationRepository
from thinkgate.store.database import Database
from thinkgate.store.keys import KeyRepository
from thinkgate.store.prompts import PromptRepository
from thinkgate.store.response_events import ResponseEventRepository
from thinkgate.store.responses import ResponseRepository

__all__ = [
    "BackgroundJobRepository",
    "ConversationRepository",
    "Database",
    "KeyRepository",
    "PromptRepository",
    "ResponseEventRepository",
    "ResponseRepository",
]
