"""Exports of a topic's cards: a CSV file and an Anki package (.apkg)."""
