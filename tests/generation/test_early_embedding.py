"""A card's duplicate check starts as soon as its front and back are written, not at
`</card>`: the tokens between them give the embedding its time, and the card reaches the
learner that much sooner."""

from __future__ import annotations

from srs.generation.worker import EarlyEmbedding
from srs.generation.xml_stream import CardStreamParser
from tests.conftest import Api
from tests.generation.conftest import llm_settings, wait_for
from tests.support.cards import batch_xml, capitals
from tests.support.llm_server import Reply
from tests.support.server import running_app

# The model writes a few tokens after </back> before </card> (here a run of blanks).
CARD = "<cards>\n  <card><front>What is the capital of France?</front><back>Paris</back>{pad}</card>\n</cards>\n"


def test_a_card_is_embedded_before_its_closing_tag_arrives(database_url, llm):
    settings = llm_settings(
        database_url, llm, embeddings="provider", embeddings_model="scripted-embedder"
    )
    text = CARD.format(pad="\n" + " " * 16)
    # 8 characters every 0.25 s: </card> leaves the server at least 0.75 s after </back>.
    llm.script([Reply(text=text, chunk_chars=8, tokens_per_second=4)])
    llm.default = Reply(status=500, error_message="no more batches in this test")
    with running_app(settings) as (base_url, _app):
        api = Api(base_url)
        api.signup("early@example.com")
        topic = api.post("/topics", json={"prompt": "European capitals"}).json()
        card = api.get(f"/topics/{topic['id']}/next", params={"wait": 30}).json()["card"]
        assert card["front"] == "What is the capital of France?"
        stream = next(e for e in llm.emitted if "<front>" in e[-1][1])
        closed = next(at for at, so_far in stream if "</card>" in so_far)
        embedded = [
            r.at
            for r in llm.requests
            if r.path == "/v1/embeddings"
            and "What is the capital of France?\nParis" in r.json["input"]
        ]
        assert len(embedded) == 1  # once: the early vectors were the ones used
        assert embedded[0] < closed
        wait_for(
            lambda: (
                api.get(f"/topics/{topic['id']}").json()["generation"]["status"]
                not in ("queued", "running")
            ),
            timeout=30,
        )


def test_the_early_text_is_the_parsed_text_whatever_the_chunking():
    """Else the early vectors would never be used (and a card embedded twice); a cloze card,
    a field with markup or on several lines is left to the parser (embedded once parsed)."""
    others = (
        '<card type="cloze"><text>The {{c1::Seine}} flows through Paris.</text></card>\n'
        "<card><front>Is 1 &lt; 2?</front><back>Yes</back></card>\n"
        "<card><front>What does this print?\n  print(1)\n  print(2)</front><back>1 2</back></card>\n"
    )
    text = batch_xml(capitals(5)).replace("</cards>", others + "</cards>")
    for size in (1, 3, 8, 13):
        early, parser = EarlyEmbedding(), CardStreamParser()
        seen, parsed = [], []
        for start in range(0, len(text), size):
            chunk = text[start : start + size]
            parsed += [(c.front, c.back) for c in parser.feed(chunk)]
            found = early.feed(chunk)
            if found is not None:
                seen.append((found.front, found.back))
        assert seen == capitals(5), size
        assert parsed[:5] == capitals(5) and len(parsed) == 8
