"""The bundle passes the built-in backends cannot do without (stdlib only).

The embedded previz model was trained on four controls, each drawn from the bundle pass of
the same name; engine/previz/model.py and the previz backend take them from here, and so do
the farm's job writers, which run without the engine's environment and add them to a previz
job's export (and sana-wm's camera pass to its). `python -m engine backends --json` reports the same (`passes`), plug-ins too.
"""

PREVIZ_CONTROLS = ("shading", "depth", "normal", "objects")  # in the network's channel order
CAMERA_PATH = ("camera",)  # sana-wm moves its first frame along the shot's exact camera path
BACKEND_PASSES = {"previz": PREVIZ_CONTROLS, "sana-wm": CAMERA_PATH}
