"""Card XML for scripted LLM replies: distinct facts, so dedup keeps them all."""

from __future__ import annotations

COUNTRIES = [
    ("France", "Paris"), ("Spain", "Madrid"), ("Italy", "Rome"), ("Germany", "Berlin"),
    ("Portugal", "Lisbon"), ("Austria", "Vienna"), ("Poland", "Warsaw"), ("Greece", "Athens"),
    ("Norway", "Oslo"), ("Sweden", "Stockholm"), ("Finland", "Helsinki"), ("Ireland", "Dublin"),
    ("Hungary", "Budapest"), ("Denmark", "Copenhagen"), ("Belgium", "Brussels"),
    ("Netherlands", "Amsterdam"), ("Czechia", "Prague"), ("Romania", "Bucharest"),
    ("Bulgaria", "Sofia"), ("Croatia", "Zagreb"), ("Serbia", "Belgrade"), ("Slovakia", "Bratislava"),
    ("Slovenia", "Ljubljana"), ("Estonia", "Tallinn"), ("Latvia", "Riga"), ("Lithuania", "Vilnius"),
    ("Iceland", "Reykjavik"), ("Malta", "Valletta"), ("Cyprus", "Nicosia"), ("Albania", "Tirana"),
]


def card_xml(front: str, back: str) -> str:
    return f"  <card>\n    <front>{front}</front>\n    <back>{back}</back>\n  </card>\n"


def capitals(count: int, start: int = 0) -> list[tuple[str, str]]:
    return [(f"What is the capital of {c}?", city) for c, city in COUNTRIES[start : start + count]]


def batch_xml(cards: list[tuple[str, str]], prose: str = "Here are your cards:\n") -> str:
    return prose + "<cards>\n" + "".join(card_xml(f, b) for f, b in cards) + "</cards>\n"
