"""Variations: many looks of one shot at once, as a contact sheet of small key-frame tiles.

`python -m engine variations` (engine.variations.command) makes, for seeds S..S+N-1, the look a
full previz take would get at each seed (the same backend call, so `generate --seed` of a picked
variation has exactly that look) and shows it on a few key frames: run.py drives it, tiles.py
composes tiles and the sheet, folder.py writes the folder whole or not at all.
"""
