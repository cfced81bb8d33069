"""/metrics is not public: a bearer token when SRS_METRICS_TOKEN is set; without one, only
loopback clients, and never in production."""

from __future__ import annotations

import httpx

from tests.conftest import make_settings
from tests.support.server import running_app

TOKEN = "metrics-token-for-tests"


def test_with_a_token_only_its_bearer_reads_metrics(database_url):
    with running_app(make_settings(database_url, metrics_token=TOKEN)) as (base_url, _app):
        anonymous = httpx.get(base_url + "/metrics")
        wrong = httpx.get(base_url + "/metrics", headers={"Authorization": "Bearer nope"})
        right = httpx.get(base_url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert anonymous.status_code == 404 and wrong.status_code == 404
    assert "srs_generation_queue_depth" not in anonymous.text + wrong.text
    assert right.status_code == 200 and "srs_generation_queue_depth" in right.text


def test_without_a_token_loopback_reads_them_and_production_serves_nobody(database_url):
    with running_app(make_settings(database_url)) as (base_url, _app):
        local = httpx.get(base_url + "/metrics")
        # A proxy on this host forwarding an outside client: uvicorn makes that the client.
        proxied = httpx.get(base_url + "/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert local.status_code == 200 and "srs_generation_queue_depth" in local.text
    assert proxied.status_code == 404
    with running_app(make_settings(database_url, env="production")) as (base_url, _app):
        assert httpx.get(base_url + "/metrics").status_code == 404
