"""Sources over HTTP, on SQLite and PostgreSQL: a 30-page PDF made here becomes a topic whose
cards cite its pages in order; citations that do not check out are rejected; unreadable,
oversized and over-quota sources fail clearly; URLs go through the SSRF-safe fetcher."""

from __future__ import annotations

import pytest

from tests.generation.conftest import wait_for
from tests.sources.conftest import batch_passages, card, faithful_reply
from tests.support import pdfs
from tests.support.llm_server import Reply
from tests.support.web_server import WebServer

pytestmark = pytest.mark.slow


def upload(api, path: str, data: bytes, name: str = "atlas.pdf", **form):
    return api.post(path, files={"file": (name, data, "application/pdf")}, data=form)


def source_when_done(api, source_id: int) -> dict:
    def done():
        found = api.get(f"/sources/{source_id}").json()
        return found if found["status"] in ("ready", "failed") else None

    return wait_for(done, timeout=30)


def all_cards(api, topic_id: int) -> list[dict]:
    return api.get(f"/topics/{topic_id}/cards", params={"limit": 500}).json()["items"]


def test_a_30_page_pdf_becomes_a_topic_whose_cards_cite_its_pages_in_order(api, llm):
    llm.responder = faithful_reply
    answer = upload(api, "/sources", pdfs.book(30))
    assert answer.status_code == 202, answer.text
    source = answer.json()
    assert source["kind"] == "file" and source["status"] in ("pending", "extracting", "ready")
    topic_id = source["topic_id"]
    assert api.get(f"/topics/{topic_id}").json()["title"] == "atlas.pdf"

    # The first card arrives while most of the PDF is still ahead.
    first = wait_for(lambda: all_cards(api, topic_id), timeout=30)[0]
    progress = api.get(f"/sources/{source['id']}").json()
    assert progress["status"] == "ready" and progress["pages"] == 30 and progress["passages"] == 30
    assert progress["covered"] < 30
    assert first["source"]["page"] == 1 and first["source"]["label"] == "Chapter 1, p. 1"
    first_batch = batch_passages(llm.requests[0])
    labels = [label for _, label, _ in first_batch]
    assert labels[0] == "Chapter 1, p. 1"
    assert len(labels) < 30 and "Chapter 3, p. 30" not in labels

    # The whole PDF is worked through, batch after batch, in reading order.
    wait_for(lambda: api.get(f"/sources/{source['id']}").json()["covered"] == 30, timeout=90)
    cards = wait_for(lambda: (c := all_cards(api, topic_id)) and len(c) >= 30 and c, timeout=30)
    pages = [c["source"]["page"] for c in cards]
    assert pages[:30] == list(range(1, 31))
    passages = {p["id"]: p for p in api.get(f"/sources/{source['id']}/passages").json()["items"]}
    assert len(passages) == 30 and all(p["covered"] for p in passages.values())
    for c in cards:
        cited = passages[c["source"]["id"]]  # every cited passage exists
        assert c["source"]["quote"] in cited["text"]
        assert c["back"] in c["source"]["quote"]
    # The topic's outline is the PDF's own bookmarks.
    outline = api.get(f"/topics/{topic_id}/outline").json()["subtopics"]
    assert [s["name"] for s in outline] == ["Chapter 1", "Chapter 2", "Chapter 3"]
    assert {c["subtopic"]["name"] for c in cards[20:30]} == {"Chapter 3"}
    # The passage is one request away, with the quoted span marked by its offsets.
    shown = api.get(f"/cards/{cards[4]['id']}/passage").json()
    assert shown["passage"]["page"] == 5 and shown["source_title"] == "atlas.pdf"
    text, quote = shown["passage"]["text"], shown["quote"]
    assert text[quote["start"] : quote["end"]] == quote["text"] == cards[4]["source"]["quote"]


def test_cards_citing_a_passage_that_does_not_exist_or_is_outside_the_batch_are_rejected(api, llm):
    calls = []

    def untrusted(request):
        calls.append(request)
        if len(calls) > 1:
            return Reply(status=400, error_message="no more batches in this test")
        batch = batch_passages(request)
        (first_id, _, first_text), last_id = batch[0], batch[-1][0]
        quote = first_text.split("\n")[0]
        return Reply(
            text="<cards>\n"
            + card("Ghost question?", "Ghost", 999999, "The capital")
            + card("Outside question?", "Outside", last_id + 1, "The capital")
            + card("Made-up quote?", "Nowhere", first_id, "The moon is made of cheese.")
            + card("No citation?", "None", "", "")
            + card("Which chapter does the atlas start with?", "Chapter 1", first_id, quote)
            + "</cards>\n"
        )

    llm.responder = untrusted
    source = upload(api, "/sources", pdfs.book(30)).json()
    wait_for(
        lambda: api.get(f"/topics/{source['topic_id']}").json()["generation"]["status"] == "failed",
        timeout=30,
    )
    cards = all_cards(api, source["topic_id"])
    assert [c["front"] for c in cards] == ["Which chapter does the atlas start with?"]
    assert cards[0]["source"]["page"] == 1


@pytest.mark.parametrize(
    "data, message",
    [(pdfs.encrypted(), "encrypted"), (pdfs.scanned(), "OCR")],
)
def test_unreadable_pdfs_fail_clearly_and_write_no_card(api, llm, data, message):
    source = upload(api, "/sources", data).json()
    done = source_when_done(api, source["id"])
    assert done["status"] == "failed" and message in done["error"]
    topic = api.get(f"/topics/{source['topic_id']}").json()
    assert topic["generation"]["status"] == "failed" and message in topic["generation"]["error"]
    assert all_cards(api, source["topic_id"]) == [] and llm.requests == []
    # Retrying writes nothing from the model's memory: the topic's cards come from sources.
    assert api.post(f"/topics/{source['topic_id']}/generate").status_code == 200
    topic = api.get(f"/topics/{source['topic_id']}").json()
    assert topic["generation"]["status"] == "failed"
    assert "None of this topic's sources could be read" in topic["generation"]["error"]
    assert llm.requests == []
    # A readable source brings the topic back.
    llm.responder = faithful_reply
    text = api.post(
        f"/topics/{source['topic_id']}/sources", json={"text": "The capital of Malta is Valletta."}
    ).json()
    assert source_when_done(api, text["id"])["status"] == "ready"
    cards = wait_for(lambda: all_cards(api, source["topic_id"]))
    assert cards[0]["back"] == "Valletta"


def test_oversized_uploads_and_the_monthly_limits_are_refused(api, llm, app):
    llm.responder = faithful_reply
    settings = app.state.settings
    settings.source_max_bytes = 100_000
    too_big = b"%PDF" + b"x" * settings.source_max_bytes
    answer = upload(api, "/sources", too_big)
    assert answer.status_code == 413 and answer.json()["error"]["code"] in (
        "source_too_large",
        "payload_too_large",
    )
    topic = api.post("/topics", json={"prompt": "Atlas"}).json()
    # The free plan's pages a month: 300 by default; a 1-page allowance is left after this.
    settings.plan_free_source_pages = 31
    first = source_when_done(
        api, upload(api, f"/topics/{topic['id']}/sources", pdfs.book(30)).json()["id"]
    )
    assert first["status"] == "ready"
    second = source_when_done(
        api, upload(api, f"/topics/{topic['id']}/sources", pdfs.book(2)).json()["id"]
    )
    assert second["status"] == "failed" and "31 source pages" in second["error"]
    settings.plan_free_source_bytes = 1000
    refused = api.post(f"/topics/{topic['id']}/sources", json={"text": "y" * 2000})
    assert refused.status_code == 402 and refused.json()["error"]["code"] == "quota_exceeded"
    listed = api.get(f"/topics/{topic['id']}/sources").json()["items"]
    assert [s["status"] for s in listed] == ["ready", "failed"]


def test_pasted_markdown_becomes_passages_under_its_headings(api, llm):
    llm.responder = faithful_reply
    text = (
        "# Northern Europe\n\nThe capital of Norway is Oslo.\n\n"
        "# Southern Europe\n\nThe capital of Malta is Valletta.\n"
    )
    source = api.post("/sources", json={"text": text}).json()
    assert source_when_done(api, source["id"])["status"] == "ready"
    cards = wait_for(lambda: (c := all_cards(api, source["topic_id"])) and len(c) == 2 and c)
    assert [(c["back"], c["source"]["label"]) for c in cards] == [
        ("Oslo", "Northern Europe"),
        ("Valletta", "Southern Europe"),
    ]
    outline = api.get(f"/topics/{source['topic_id']}/outline").json()["subtopics"]
    assert [s["name"] for s in outline] == ["Northern Europe", "Southern Europe"]
    # The learner's export carries the source, its passages and the cards' citations.
    exported = api.get("/me/export").json()
    assert [s["id"] for s in exported["sources"]] == [source["id"]]
    assert exported["sources"][0]["text"].startswith("The capital of Norway is Oslo.")
    assert [p["label"] for p in exported["passages"]] == ["Northern Europe", "Southern Europe"]
    assert {c["card_id"] for c in exported["card_citations"]} == {c["id"] for c in cards}
    ledger = exported["source_usage"]
    assert [(u["source_id"], u["size_bytes"]) for u in ledger] == [(source["id"], len(text.encode()))]


def test_a_web_page_is_fetched_and_internal_addresses_are_refused(api, llm):
    llm.responder = faithful_reply
    with WebServer() as web:
        web.page(
            "/atlas",
            b"<html><head><title>Web atlas</title></head><body><h1>North</h1>"
            b"<p>The capital of Iceland is Reykjavik.</p></body></html>",
        )
        web.redirect("/escape", web.url("/atlas"))  # to 127.0.0.1, not allowlisted
        topic = api.post("/topics", json={"prompt": "Atlas"}).json()
        path = f"/topics/{topic['id']}/sources"
        fetched = source_when_done(
            api, api.post(path, json={"url": web.url("/atlas", "localhost")}).json()["id"]
        )
        assert fetched["status"] == "ready" and fetched["title"] == "Web atlas"
        for url in (
            web.url("/atlas"),
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
            "http://[::1]/",
            "file:///etc/passwd",
        ):
            refused = api.post(path, json={"url": url})
            assert (
                refused.status_code == 422 and refused.json()["error"]["code"] == "url_refused"
            ), url
        redirected = api.post(path, json={"url": web.url("/escape", "localhost")}).json()
        done = source_when_done(api, redirected["id"])
        assert done["status"] == "failed" and "loopback" in done["error"]
        assert [p for p, _ in web.seen] == ["/atlas", "/escape"]


def test_other_learners_sources_and_passages_are_not_found(api, api_factory, llm):
    llm.responder = faithful_reply
    source = api.post("/sources", json={"text": "The capital of Latvia is Riga."}).json()
    source_when_done(api, source["id"])
    card_id = wait_for(lambda: all_cards(api, source["topic_id"]))[0]["id"]
    other = api_factory("eve@example.com")
    assert other.get(f"/sources/{source['id']}").status_code == 404
    assert other.get(f"/sources/{source['id']}/passages").status_code == 404
    assert other.get(f"/cards/{card_id}/passage").status_code == 404
    assert (
        other.post(f"/topics/{source['topic_id']}/sources", json={"text": "x"}).status_code == 404
    )
    manual = api.post(
        f"/topics/{source['topic_id']}/cards", json={"front": "Q", "back": "A"}
    ).json()
    assert api.get(f"/cards/{manual['id']}/passage").status_code == 404


@pytest.mark.parametrize(
    "body, status",
    [
        ({}, 422),
        ({"text": "a", "url": "http://x.test/"}, 422),
        ({"text": "   "}, 422),
        ({"text": "a", "colour": "red"}, 422),
    ],
)
def test_bad_source_requests_are_4xx(api, body, status):
    assert api.post("/sources", json=body).status_code == status
    assert api.get("/topics").json()["items"] == []
