"""The one settings object: environment variables with the SRS_ prefix (or a .env file)."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_DEV_SECRET = "dev-" + secrets.token_hex(16)
DEV_SECRET_FILE = "secret_key"


def development_secret(var_dir: Path) -> str:
    """The development key kept in var/ (0600) so sessions survive a restart. Written to a
    private temporary file and linked into place, so two processes starting at once agree."""
    path = var_dir / DEV_SECRET_FILE
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        temporary = var_dir / f".{DEV_SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("dev-" + secrets.token_hex(32))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            temporary.unlink()
    return path.read_text().strip()


def _local_extra_installed(local_model: str) -> bool:
    """llama-cpp-python and the chosen embedded model's weight packages are all importable."""
    from srs.llm.local import LOCAL_MODELS, missing_modules

    return local_model in LOCAL_MODELS and not missing_modules(local_model)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SRS_", env_file=".env", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    database_url: str = f"sqlite:///{Path('var') / 'srs.db'}"
    # Local state of a development server (its persisted secret key).
    var_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: str = _DEV_SECRET
    session_days: int = 30
    max_body_bytes: int = 64 * 1024
    # Requests per window (0 turns a limit off): per client address, per address+email, per user.
    rate_signup_per_hour: int = 20
    rate_login_per_5min: int = 10  # per IP and email
    rate_login_ip_per_5min: int = 30  # per IP across emails: spraying many emails is stopped
    # Password hashes (log-in, sign-up, reset) one address may have waiting at once (0: off).
    password_checks_per_address: int = 4
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
    llm_temperature: float = Field(0.7, ge=0, le=2)
    # The embedded model: qwen-1.5b (default) or gemma-270m (a demo for very small machines);
    # threads default to the physical cores; the weights are assembled under local_model_dir
    # (default ~/.cache/srs/models).
    local_model: Literal["qwen-1.5b", "gemma-270m"] = "qwen-1.5b"
    local_threads: int | None = None
    # Dedup embeddings: the local all-MiniLM-L6-v2, or the provider's /embeddings with
    # SRS_EMBEDDINGS_MODEL. The thresholds fit MiniLM: measure another model's with
    # bench/dedup_eval.py before changing model.
    embeddings: Literal["local", "provider"] = "local"
    embeddings_model: str | None = None
    dedup_card_threshold: float = Field(0.77, gt=0, le=1)
    dedup_answer_threshold: float = Field(0.84, gt=0, le=1)
    local_model_dir: str | None = None
    # The verification pass (a second opinion on each batch): the model that judges the cards,
    # on the same provider; unset, the model that wrote them. The embedded provider has one model.
    verify_model: str | None = None
    # The answer check (generation/answer_check.py): each new card's question asked again on
    # its own, the card held back when the answers disagree. auto: on for the embedded chat
    # model, whose second answer is free and whose first is often wrong; off for the others.
    answer_check: Literal["auto", "on", "off"] = "auto"
    # A file every process appends a card's delivery steps to (bench/stream_latency.py
    # --trace; srs/kit/events.py). Unset: nothing is noted.
    delivery_trace: str | None = None

    # Generation and the study buffer.
    batch_size: int = Field(10, ge=1, le=50)
    refill_below: int = Field(5, ge=0)
    # The adaptive refill point never keeps more unseen cards than this (see generation/refill.py).
    max_unseen: int = Field(40, ge=1)
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

    # Imports: the largest upload, and the most its archive may unpack to.
    import_max_bytes: int = 200 * 1024 * 1024
    import_max_unpacked_bytes: int = 1024 * 1024 * 1024

    # Sources (srs/sources): the largest upload or fetched page, the most pages one PDF may
    # have, passage and per-batch passage sizes, and the whole-fetch deadline for a URL.
    source_max_bytes: int = Field(20 * 1024 * 1024, ge=1)
    source_max_pages: int = Field(1000, ge=1)
    source_passage_chars: int = Field(1500, ge=200, le=20000)
    source_batch_chars: int = Field(6000, ge=200, le=100000)
    source_fetch_timeout: float = Field(20.0, gt=0)
    # Host names (as written in the URL) whose addresses are not checked when a source is
    # fetched: for tests and development against local servers only (refused in production).
    source_fetch_allow_hosts: list[str] = []

    # Plans and billing.
    plan_free_cards: int = 200
    plan_free_topics: int = 3
    plan_pro_cards: int = 5000
    # Sources each billing period on the free plan (uploaded or fetched bytes, PDF pages); the
    # pro plan has only the per-source limits above.
    plan_free_source_bytes: int = Field(50 * 1024 * 1024, ge=0)
    plan_free_source_pages: int = Field(300, ge=0)
    stripe_webhook_secret: str | None = None
    stripe_api_key: str | None = None
    stripe_price_pro: str | None = None  # the Checkout price of the Pro plan
    stripe_api_base: str | None = None  # another Stripe API host (a local double in tests)
    # Flagged generated cards refunded per period, in percent of the plan's cards.
    refund_percent: int = Field(10, ge=0, le=100)
    # Bearer token for /metrics; without it /metrics answers only loopback clients, and never
    # in production.
    metrics_token: str | None = None
    # How often the ticker checks counters against the ledger, and sends usage to Stripe.
    usage_reconcile_seconds: float = 300.0
    usage_report_seconds: float = 60.0

    # Accounts: password reset by email. Without smtp_url, reset answers 503 reset_unavailable.
    # smtp://user:pass@host:587?starttls=true, or smtps://user:pass@host:465 (implicit TLS).
    smtp_url: str | None = None
    smtp_from: str = "srs <no-reply@localhost>"
    smtp_timeout: float = 20.0
    # Where links in emails point (the web app's address); defaults to http://{host}:{port}.
    # Never taken from the request's Host header, which a caller controls.
    public_url: str | None = None
    password_reset_minutes: int = Field(60, ge=5, le=1440)
    rate_reset_per_hour: int = 5

    @model_validator(mode="after")
    def _resolve(self) -> Settings:
        if self.llm_provider is None:
            self.llm_provider = "local" if _local_extra_installed(self.local_model) else ""
        if self.env == "development" and self.secret_key == _DEV_SECRET:
            self.secret_key = development_secret(self.var_dir)
        if self.env == "production" and self.secret_key.startswith("dev-"):
            raise ValueError("SRS_SECRET_KEY must be set to a strong secret in production")
        if self.env == "production" and self.source_fetch_allow_hosts:
            raise ValueError("SRS_SOURCE_FETCH_ALLOW_HOSTS is for tests and development only")
        if self.env == "production" and len(self.secret_key) < 32:
            raise ValueError("SRS_SECRET_KEY must be at least 32 characters in production")
        return self

    @field_validator("smtp_url", "public_url")
    @classmethod
    def _url_or_none(cls, value: str | None, info) -> str | None:
        if value is None or not value.strip():
            return None
        schemes = ("smtp", "smtps") if info.field_name == "smtp_url" else ("http", "https")
        parts = urlsplit(value.strip())
        if parts.scheme not in schemes or not parts.hostname:
            raise ValueError(f"SRS_{info.field_name.upper()} must look like {schemes[0]}://host...")
        return value.strip()

    @property
    def base_url(self) -> str:
        """The web app's public address, for links sent by email."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
