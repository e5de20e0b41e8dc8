"""The embedded `previz` model: colour on top of the blocking's own light (see docs/previz_model.md).

appearance.py is numpy only (ratios, pooling per object, composition); model.py holds the
diffusers network and its sampler; prior.py samples an unnamed object's colour on a fixed
canonical shot (canonical.npz beside the weights), so looks never depend on the shot. The
engine's `previz` backend (engine/backends/previz.py) joins them with engine.looks;
scripts/train_previz.py and scripts/eval_previz.py train and measure it.
"""
