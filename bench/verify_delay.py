"""The delay the verification pass adds, through the real app, with the scripted model.

In-process `srs serve` (API, worker, ticker; SQLite in a temporary directory) and the scripted
LLM server over real HTTP, writing at a fixed pace (--tps tokens a second, four characters a
token, --ttft before the first). A learner makes a topic from a pasted text (a grounded topic)
and long-polls `GET /topics/{id}/next`:

- baseline: a topic made from a prompt (not grounded: the check is off by default), the model
  writing the same cards;
- verified: a topic made from a pasted text (grounded: the check is on by default).

Times run from the moment the first card request reaches the model (so reading the pasted
text does not count) to the first card `next` shows, and to the whole first batch saved.
Reported with the verify requests each run made.

    .venv/bin/python bench/verify_delay.py [--runs 3] [--tps 50] [--ttft 0.3]

Rerunning the labelled set against a real model: bench/verify_labelled.py.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _machine import machine

from srs.kit.migrate import upgrade
from srs.kit.settings import Settings
from tests.conftest import Api
from tests.sources.conftest import batch_passages, card
from tests.support.llm_server import (
    Reply,
    ScriptedLLMServer,
    is_outline_request,
    outline_xml,
    verdicts_xml,
    verify_cards,
)
from tests.support.server import running_app

CAPITALS = {
    "Norway": "Oslo", "Malta": "Valletta", "Latvia": "Riga", "Peru": "Lima", "Kenya": "Nairobi",
    "Japan": "Tokyo", "Chile": "Santiago", "Egypt": "Cairo", "Canada": "Ottawa",
    "Ghana": "Accra", "Nepal": "Kathmandu", "Cuba": "Havana",
}
FACTS = [f"The capital of {country} is {city}." for country, city in CAPITALS.items()]
FACT = re.compile(r"The capital of (\w+) is (\w+)\.")
BATCH = 10


def settings(directory: str, llm: ScriptedLLMServer) -> Settings:
    url = f"sqlite:///{directory}/bench.db"
    upgrade(url)
    return Settings(
        _env_file=None,
        env="test",
        database_url=url,
        llm_provider="openai",
        llm_base_url=llm.base_url,
        llm_api_key="bench",
        llm_model="scripted",
        batch_size=BATCH,
        source_batch_chars=100000,
        secret_key="bench-secret-" + "x" * 32,
    )


def paced(text: str, tps: float, ttft: float) -> Reply:
    return Reply(text=text, chunk_chars=4, tokens_per_second=tps, ttft=ttft)


def writer(tps: float, ttft: float):
    def write(request) -> Reply:
        if is_outline_request(request.json):
            return Reply(text=outline_xml())
        # The same reply either way: an ungrounded batch's cards carry the citation elements
        # too (the worker drops them), so both runs stream the same characters.
        passages = batch_passages(request) or [(1, "", "\n".join(FACTS))]
        facts = [(pid, found) for pid, _, text in passages for found in FACT.finditer(text)]
        cards = "".join(
            card(f"What is the capital of {found[1]}?", found[2], pid, found[0])
            for pid, found in facts[:BATCH]
        )
        return paced(f"<cards>\n{cards}</cards>\n", tps, ttft)

    return write


def judge(tps: float, ttft: float):
    def verdicts(request) -> Reply:
        found = verify_cards(request)
        return paced(verdicts_xml((n, "ok", "Stated by the passage.") for n, _ in found), tps, ttft)

    return verdicts


def one_run(verified: bool, tps: float, ttft: float) -> tuple[float, float, int]:
    with ScriptedLLMServer() as llm, tempfile.TemporaryDirectory() as directory:
        llm.responder, llm.verifier = writer(tps, ttft), judge(tps, ttft)
        with running_app(settings(directory, llm)) as (url, _app):
            api = Api(url)
            api.signup("bench@example.com")
            if verified:
                topic_id = api.post("/sources", json={"text": "\n\n".join(FACTS)}).json()["topic_id"]
            else:
                topic_id = api.post("/topics", json={"prompt": "Capitals"}).json()["id"]
            while api.get(f"/topics/{topic_id}/next", params={"wait": 30}).json()["card"] is None:
                pass
            first = time.monotonic()
            while len(api.get(f"/topics/{topic_id}/cards").json()["items"]) < BATCH:
                time.sleep(0.02)
            batch = time.monotonic()
            asked = llm.requests[0].at
            if api.get(f"/topics/{topic_id}").json()["verify_cards"] != verified:
                raise RuntimeError("the topic's check is not what this run measures")
            return first - asked, batch - asked, len(llm.verify_requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tps", type=float, default=50.0, help="the model's tokens a second")
    parser.add_argument("--ttft", type=float, default=0.3, help="seconds to the first token")
    args = parser.parse_args()
    print(f"machine: {machine()}; load average before: {os.getloadavg()}")
    print(f"model: {args.tps:g} tokens/s, first token after {args.ttft:g} s; batch of {BATCH}")
    for verified in (False, True):
        runs = [one_run(verified, args.tps, args.ttft) for _ in range(args.runs)]
        name = "verified" if verified else "baseline"
        firsts, batches = [r[0] for r in runs], [r[1] for r in runs]
        print(
            f"{name:9} first card: median {statistics.median(firsts):.2f} s "
            f"({', '.join(f'{t:.2f}' for t in firsts)}); whole batch: median "
            f"{statistics.median(batches):.2f} s; verify requests per run: {runs[0][2]}"
        )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
