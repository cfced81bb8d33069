"""Schemathesis against the app's own /openapi.json, every endpoint, signed in: no 5xx, and
every answer matches its documented schema and status codes."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Api, make_settings
from tests.support import databases
from tests.support.server import running_app
from tests.support.smtp_server import SmtpServer

EXAMPLES = int(os.environ.get("SRS_FUZZ_EXAMPLES", "30"))


@pytest.fixture
def fuzz_target(sqlite_template, tmp_path):
    smtp = SmtpServer()  # password reset requests must get 202 or 4xx, not 503
    app_settings = make_settings(
        databases.sqlite_copy(sqlite_template, tmp_path),
        rate_signup_per_hour=0, rate_login_per_5min=0, rate_topics_per_hour=0,
        rate_reset_per_hour=0,
        stripe_webhook_secret="whsec_fuzz",  # unsigned fuzz requests must get 400, not 503
        smtp_url=smtp.url,
    )
    with smtp, running_app(app_settings) as (base_url, _app):
        api = Api(base_url)
        api.signup("fuzz@example.com")
        topic = api.post("/topics", json={"prompt": "Fuzzing"}).json()
        api.post(f"/topics/{topic['id']}/cards", json={"front": "Q?", "back": "A"})
        yield base_url, api.token


def _fuzz_operation(operation, base_url: str, token: str, statuses: list[int]) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
              database=None)
    def run(case) -> None:
        response = case.call_and_validate(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                    response_schema_conformance],
        )
        statuses.append(response.status_code)

    run()


def test_api_conforms_to_its_schema_and_never_fails(fuzz_target):
    base_url, token = fuzz_target
    schema = schemathesis.openapi.from_url(base_url + "/openapi.json")
    failures, fuzzed, statuses = [], 0, []
    for result in schema.get_all_operations():
        operation = result.ok()
        fuzzed += 1
        try:
            _fuzz_operation(operation, base_url, token, statuses)
        except Exception as failure:  # collected: one report for every endpoint that fails
            failures.append(f"{operation.method.upper()} {operation.path}: {failure}")
    assert fuzzed >= 20, "the schema lists fewer operations than the API has"
    assert not failures, "\n\n".join(failures)
    # Signed in for real: the parameterless reads (me, topics, usage, stats...) succeed.
    assert sum(200 <= s < 300 for s in statuses) >= 5
    assert all(s < 500 for s in statuses)
