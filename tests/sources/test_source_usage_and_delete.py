"""Sources against the plan over HTTP, on SQLite and PostgreSQL: GET /usage shows the sources'
size and pages this period against the limits the upload refusal applies; deleting a source
keeps its cards (without their citation), stops a read in progress, refunds nothing, and is a
404 for anyone else."""

from __future__ import annotations

import pytest

from srs.accounts.models import User
from srs.kit.db import utcnow
from srs.metering import service as metering
from srs.sources.service import NO_SOURCE_READ
from tests.generation.conftest import wait_for
from tests.sources.conftest import HeldPages, faithful_reply, prompt_of
from tests.sources.test_sources_api import all_cards, source_when_done, upload
from tests.support import pdfs
from tests.support.web_server import WebServer

pytestmark = pytest.mark.slow

TEXT = (
    "# Northern Europe\n\nThe capital of Norway is Oslo.\n\n"
    "# Southern Europe\n\nThe capital of Malta is Valletta.\n"
)


def test_usage_shows_the_sources_size_and_pages_against_the_plan(api, llm, app):
    llm.responder = faithful_reply
    settings = app.state.settings
    empty = api.get("/usage").json()["sources"]
    assert empty == {
        "bytes_used": 0,
        "bytes_limit": settings.plan_free_source_bytes,
        "pages_used": 0,
        "pages_limit": settings.plan_free_source_pages,
    }
    pdf = source_when_done(api, upload(api, "/sources", pdfs.book(30)).json()["id"])
    text = source_when_done(api, api.post("/sources", json={"text": TEXT}).json()["id"])
    assert pdf["status"] == text["status"] == "ready"
    shown = api.get("/usage").json()["sources"]
    assert shown["bytes_used"] == pdf["size_bytes"] + text["size_bytes"] > 0
    assert shown["pages_used"] == 30

    # The limits shown are the ones a new source is refused past.
    settings.plan_free_source_pages = 31
    assert api.get("/usage").json()["sources"]["pages_limit"] == 31
    refused = source_when_done(
        api, upload(api, f"/topics/{pdf['topic_id']}/sources", pdfs.book(2)).json()["id"]
    )
    assert refused["status"] == "failed" and "30 are used" in refused["error"]
    settings.plan_free_source_bytes = shown["bytes_used"] + 10
    assert api.get("/usage").json()["sources"]["bytes_limit"] == shown["bytes_used"] + 10
    too_much = api.post(f"/topics/{pdf['topic_id']}/sources", json={"text": "y" * 20})
    assert too_much.status_code == 402 and too_much.json()["error"]["code"] == "quota_exceeded"
    # A failed source counts nothing.
    assert api.get("/usage").json()["sources"]["pages_used"] == 30

    # Pro has no monthly source limits.
    me = api.get("/me").json()
    with app.state.db.transaction() as session:
        user = session.get(User, me["id"])
        metering.set_plan(session, settings, user, "pro", utcnow())
    pro = api.get("/usage").json()["sources"]
    assert pro["bytes_limit"] is None and pro["pages_limit"] is None


def test_deleting_a_source_keeps_its_cards_uncited_and_refunds_nothing(api, api_factory, llm):
    llm.responder = faithful_reply
    source = api.post("/sources", json={"text": TEXT}).json()
    topic_id = source["topic_id"]
    assert source_when_done(api, source["id"])["status"] == "ready"
    cards = wait_for(lambda: (c := all_cards(api, topic_id)) and len(c) == 2 and c)
    assert all(c["source"] for c in cards)
    used = api.get("/usage").json()["sources"]
    assert used["bytes_used"] > 0

    other = api_factory("eve@example.com")
    assert other.delete(f"/sources/{source['id']}").status_code == 404
    assert api.get(f"/sources/{source['id']}").json()["status"] == "ready"

    assert api.delete(f"/sources/{source['id']}").status_code == 204
    assert api.get(f"/sources/{source['id']}").status_code == 404
    assert api.get(f"/sources/{source['id']}/passages").status_code == 404
    assert api.get(f"/topics/{topic_id}/sources").json()["items"] == []
    assert api.delete(f"/sources/{source['id']}").status_code == 404
    # The cards stay, studied as before, without a citation that points nowhere.
    kept = all_cards(api, topic_id)
    assert [c["id"] for c in kept] == [c["id"] for c in cards]
    assert all(c["source"] is None for c in kept)
    for card in kept:
        assert api.get(f"/cards/{card['id']}").json()["source"] is None
        assert api.get(f"/cards/{card['id']}/passage").status_code == 404
    shown = api.get(f"/topics/{topic_id}/next").json()
    assert shown["card"]["id"] in {c["id"] for c in cards} and shown["card"]["source"] is None
    review = api.post(f"/cards/{shown['card']['id']}/review", json={"rating": 3})
    assert review.status_code == 200
    # No new card is written from the model's memory: the topic waits for a new source.
    topic = wait_for(
        lambda: (
            (t := api.get(f"/topics/{topic_id}").json())["generation"]["status"] == "failed" and t
        )
    )
    assert topic["generation"]["error"] == NO_SOURCE_READ
    # Deleting does not give the period's usage back.
    assert api.get("/usage").json()["sources"] == used
    exported = api.get("/me/export")
    assert exported.status_code == 200 and exported.json()["card_citations"] == []
    # The export keeps the deleted source's line of the usage ledger, as the usage does.
    ledger = exported.json()["source_usage"]
    assert [row["source_id"] for row in ledger] == [source["id"]]
    assert sum(row["size_bytes"] for row in ledger) == used["bytes_used"]
    # A new source brings the topic back.
    again = api.post(
        f"/topics/{topic_id}/sources", json={"text": "The capital of Latvia is Riga."}
    ).json()
    assert source_when_done(api, again["id"])["status"] == "ready"
    wait_for(lambda: any(c["back"] == "Riga" and c["source"] for c in all_cards(api, topic_id)))


def test_deleting_sources_being_read_or_waiting_stops_their_reads(api, llm):
    llm.responder = faithful_reply
    with WebServer() as web:
        held = HeldPages()
        web.pages = held
        web.page("/atlas", b"<html><body><h1>North</h1><p>The capital of Iceland is Reykjavik.</p>")
        source = api.post("/sources", json={"url": web.url("/atlas", "localhost")}).json()
        topic_id = source["topic_id"]
        assert held.asked.wait(20)
        assert api.get(f"/sources/{source['id']}").json()["status"] == "extracting"
        # Sources are read one at a time: this one waits behind the page being fetched.
        waiting = api.post(
            f"/topics/{topic_id}/sources", json={"text": "The capital of Malta is Valletta."}
        ).json()
        assert api.get(f"/sources/{waiting['id']}").json()["status"] == "pending"
        assert api.delete(f"/sources/{source['id']}").status_code == 204
        assert api.delete(f"/sources/{waiting['id']}").status_code == 204
        held.release.set()
        wait_for(lambda: web.seen, timeout=20)
    assert api.get(f"/sources/{source['id']}").status_code == 404
    assert api.get(f"/topics/{topic_id}/sources").json()["items"] == []
    topic = api.get(f"/topics/{topic_id}").json()
    assert topic["generation"]["status"] == "failed"
    assert topic["generation"]["error"] == NO_SOURCE_READ
    # The next source is read after both dropped reads: only its cards are written.
    latvia = api.post(
        f"/topics/{topic_id}/sources", json={"text": "The capital of Latvia is Riga."}
    ).json()
    assert source_when_done(api, latvia["id"])["status"] == "ready"
    cards = wait_for(lambda: all_cards(api, topic_id))
    assert [c["back"] for c in cards] == ["Riga"]
    asked = " ".join(prompt_of(r) for r in llm.requests)
    assert "Reykjavik" not in asked and "Valletta" not in asked
    assert [s["id"] for s in api.get(f"/topics/{topic_id}/sources").json()["items"]] == [
        latvia["id"]
    ]


def test_deleting_a_topic_refunds_none_of_its_sources_usage(api, llm, app):
    """A learner cannot get the period's source limits back by deleting the topic a big PDF
    made and uploading it again: the usage stays, and the limits still refuse."""
    llm.responder = faithful_reply
    settings = app.state.settings
    first = source_when_done(api, upload(api, "/sources", pdfs.book(20)).json()["id"])
    assert first["status"] == "ready" and first["pages"] == 20
    used = api.get("/usage").json()["sources"]
    assert used["bytes_used"] == first["size_bytes"] > 0 and used["pages_used"] == 20

    assert api.delete(f"/topics/{first['topic_id']}").status_code == 204
    assert api.get(f"/sources/{first['id']}").status_code == 404
    assert api.get("/usage").json()["sources"] == used

    # The same PDF again, past the pages limit: refused once read, with the reason, and the
    # first upload still counted (on SQLite the new source may even reuse the deleted one's id).
    settings.plan_free_source_pages = 30
    again = source_when_done(api, upload(api, "/sources", pdfs.book(20)).json()["id"])
    assert again["status"] == "failed"
    assert "allows 30 source pages a period; 20 are used" in again["error"]
    assert api.get("/usage").json()["sources"] == {**used, "pages_limit": 30}

    # Past the bytes limit: refused at once.
    settings.plan_free_source_bytes = used["bytes_used"] + 10
    refused = upload(api, "/sources", pdfs.book(20))
    assert refused.status_code == 402, refused.text
    error = refused.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert f"{used['bytes_used'] // 1024} KB are used" in error["message"]


def test_deleting_a_topic_while_its_source_is_read_keeps_the_source_counted(api, llm):
    llm.responder = faithful_reply
    with WebServer() as web:
        held = HeldPages()
        web.pages = held
        web.page("/atlas", b"<html><body><h1>North</h1><p>The capital of Iceland is Reykjavik.</p>")
        waiting_on = api.post("/sources", json={"url": web.url("/atlas", "localhost")}).json()
        assert held.asked.wait(20)
        pasted = api.post(f"/topics/{waiting_on['topic_id']}/sources", json={"text": TEXT}).json()
        assert pasted["status"] == "pending" and pasted["size_bytes"] == len(TEXT.encode())
        assert api.get("/usage").json()["sources"]["bytes_used"] == len(TEXT.encode())
        assert api.delete(f"/topics/{waiting_on['topic_id']}").status_code == 204
        held.release.set()
        wait_for(lambda: web.seen, timeout=20)
    # Neither read goes on (their topic is gone); the pasted text was accepted and stays
    # counted, the page was never fetched into the topic and counts nothing.
    assert api.get(f"/sources/{pasted['id']}").status_code == 404
    assert api.get("/usage").json()["sources"]["bytes_used"] == len(TEXT.encode())
    assert api.get("/topics").json()["items"] == []
