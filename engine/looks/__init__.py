"""Looks: what each actor and prop looks like, decided once per scene (bpy-free, torch-free).

colours.py reads colour words (XKCD survey names, CC0) in descriptions; mood.py turns a
prompt's mood words into a colour grade; palette.py reads a reference image's dominant
colours and transfers its grade; plan.py decides every object's look from the cast, the
look seed and the object's name; references.py checks reference images before any model
loads; measure.py measures takes (albedo per object in CIELAB, ΔE76, palette distance).
"""
