"""Imports of Anki packages (.apkg, .colpkg) and Anki-style CSV/TSV files, with their history."""
