"""The embedded `previz` model: colour on top of the blocking's own light (see docs/previz_model.md).

appearance.py is numpy only (ratios, pooling per object, composition); model.py holds the
diffusers network and its sampler. The engine's `previz` backend (engine/backends/previz.py)
joins them; scripts/train_previz.py and scripts/eval_previz.py train and measure it.
"""
