"""Prometheus metrics, one registry per process (served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

TIME_TO_FIRST_CARD = Histogram(
    "srs_time_to_first_card_seconds",
    "From a job's stream opening to its first saved card",
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 21, 34, 60),
)
CARDS_SAVED = Counter("srs_cards_generated_total", "Generated cards saved")
CARDS_REJECTED = Counter("srs_cards_rejected_total", "Generated cards rejected", ["reason"])
LLM_ERRORS = Counter("srs_llm_errors_total", "LLM failures by kind", ["kind"])
JOBS_FINISHED = Counter("srs_generation_jobs_total", "Generation jobs ended", ["outcome"])
# Background work that failed and will be tried again (a chore, a claim, a crashed job): the
# learner may only see a topic staying "queued", so operators need to see these.
BACKGROUND_FAILURES = Counter(
    "srs_background_failures_total", "Background steps that failed and will be retried", ["step"]
)
LEASE_EXPIRIES = Counter("srs_lease_expiries_total", "Jobs whose worker lease ran out")
QUOTA_REFUSALS = Counter("srs_quota_refusals_total", "Batches refused or shrunk by the quota")
QUEUE_DEPTH = Gauge("srs_generation_queue_depth", "Queued generation jobs")
LLM_TOKENS = Counter("srs_llm_tokens_total", "LLM tokens", ["direction"])
USAGE_DRIFT = Gauge(
    "srs_usage_drift_units", "Units by which usage counters differ from the ledger (0 = in step)"
)
BILLING_PARKED = Gauge(
    "srs_billing_parked_events",
    "Billing webhook events waiting for their customer to be linked to a user (see "
    "`srs billing parked`)",
)
USAGE_REPORTS_REFUSED = Counter(
    "srs_usage_reports_refused_total",
    "Usage events Stripe refused for good (a 4xx other than 429); the outbox moved past them",
)
MAILS_SENT = Counter("srs_mails_sent_total", "Emails handed to the SMTP server")
MAIL_FAILURES = Counter("srs_mail_failures_total", "Emails the SMTP server did not take")
LISTENER_UP = Gauge("srs_listener_up", "1 while this process's LISTEN connection is up")
LISTENER_RECONNECTS = Counter(
    "srs_listener_reconnects_total", "Times the LISTEN connection was lost and reopened"
)
LONG_POLL_REREADS = Counter(
    "srs_long_poll_rereads_total",
    "Long-poll re-reads on the timer, not a wake-up (safety: listener up; fallback: not)",
    ["mode"],
)
