"""/metrics tells an operator what generation is doing."""

from __future__ import annotations

import httpx

from tests.generation.conftest import wait_for
from tests.support.cards import batch_xml, capitals
from tests.support.llm_server import Reply


def _metric(text: str, name: str) -> float:
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ") or line.startswith(name + "{"))


def test_metrics_report_cards_first_card_time_errors_and_queue(api, llm, base_url):
    before = httpx.get(base_url + "/metrics").text
    llm.script([Reply(text=batch_xml(capitals(3))), Reply(status=401, error_message="bad key")])
    topic = api.post("/topics", json={"prompt": "European capitals"}).json()
    wait_for(lambda: api.get(f"/topics/{topic['id']}").json()["generation"]["status"] == "failed")
    after = httpx.get(base_url + "/metrics").text
    assert _metric(after, "srs_cards_generated_total") - _metric(before, "srs_cards_generated_total") == 3
    assert _metric(after, "srs_time_to_first_card_seconds_count") > _metric(before, "srs_time_to_first_card_seconds_count")
    assert _metric(after, 'srs_llm_errors_total{kind="auth"}') >= 1
    for name in ("srs_generation_queue_depth", "srs_lease_expiries_total", "srs_quota_refusals_total"):
        assert name in after
