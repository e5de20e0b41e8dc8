"""`previz`: Blockcast's embedded model — runs on a CPU, needs no download, the default.

Each object's look is decided once per scene, from the cast, the look seed and the
object's name only (engine.looks.plan): a locked colour, a colour word of its
description, its reference image, the shot reference's palette, or else the previz UNet's
own choice sampled on a fixed canonical shot (engine.previz.prior), never on this shot —
so an actor looks the same in a shot and its reverse. Frames are composed at the shot's
size as clay shading x object colour (silhouettes, shadows and light stay exactly the
blocking's), then graded by the prompt's mood words and toward the shot's reference.
"""

import numpy as np

from ..bundle.take_record import TakeLook, TakeNotes
from ..looks.colour_space import hex_to_srgb8, srgb_to_linear
from ..looks.measure import albedo_to_ratio
from ..looks.mood import grade_for
from ..looks.palette import lab_statistics, take_statistics, transfer
from ..looks.plan import plan_looks
from ..previz import appearance
from ..previz.model import CONTROL_KINDS, WEIGHTS_DIR
from ..previz.prior import DEFAULT_STEPS
from .base import Backend, ModelRole, snap

MAX_LONG_SIDE = 1920


def _ratio(colour_hex):
    return albedo_to_ratio(srgb_to_linear(hex_to_srgb8(colour_hex) / 255.0)).astype(np.float32)


def colour_ratios(object_names, colours):
    """{object index: clay ratio} of each object's '#rrggbb' look (index k is object_names[k-1]),
    what a frame is composed with: also the Variations' tiles (engine.variations)."""
    return {index: _ratio(colours[name]) for index, name in enumerate(object_names, start=1)}


class PrevizBackend(Backend):
    name = "previz"
    description = ("Blockcast's embedded previz model (3.7M parameters, runs on a CPU): one look per object for "
                   "the whole scene (colour words, locked colours, references, else the model's choice) on the "
                   "shot's clay shading; mood words of the prompt set a grade")
    controls = CONTROL_KINDS
    default_weights = {kind: 1.0 for kind in CONTROL_KINDS}
    required_controls = CONTROL_KINDS
    roles = (ModelRole("previz", str(WEIGHTS_DIR), "the previz UNet and scheduler, shipped with Blockcast"),)
    default_steps = DEFAULT_STEPS  # the colour prior's (engine.previz.prior)
    default_guidance = 1.0
    size_multiple = 2
    default_long_side = MAX_LONG_SIDE
    ignores = ("negative_prompt", "guidance")
    reads_cast = True        # descriptions come from the cast, so the prompt is the shot's own

    def size_rule(self):
        return (f"frames composed at the shot's size (long side at most {MAX_LONG_SIDE}); "
                "the network itself samples colours at 112x64 on a canonical shot")

    def model_size(self, shot_w, shot_h, requested=None):
        if requested is None:
            scale = min(1.0, MAX_LONG_SIDE / max(shot_w, shot_h))
            requested = (shot_w * scale, shot_h * scale)
        return snap(requested[0], self.size_multiple), snap(requested[1], self.size_multiple)

    def load(self, models, controls, device):
        from ..previz.model import PrevizSampler
        from ..previz.prior import ColourPrior

        self.sampler = PrevizSampler(models["previz"].path, device.kind)
        self.prior = ColourPrior(self.sampler, models["previz"].path)
        self.settings = {"dtype": "float32", "scheduler": self.prior.scheduler_name,
                         "prompt": "mood words set a grade; descriptions come from the cast",
                         "trained": self.sampler.info.get("training", {}), "calibration": self.sampler.calibration}
        self.notes = TakeNotes()

    def look_colours(self, request, hooks):
        """(LookPlan, {object name: '#rrggbb'}) for every object of the objects pass."""
        from ..bundle.cast import Cast

        plan = plan_looks(request.cast or Cast(), request.object_names, request.seed, request.references,
                          request.shot_reference)
        colours = {name: look.colour for name, look in plan.objects.items() if look.colour is not None}
        colours.update(self.prior.choose(plan.undecided(), plan.known(), request.steps, hooks.on_step,
                                         hooks.check_cancel))
        return plan, colours

    def look_sampler(self, steps):
        """take.json's look.sampler (and variations.json's sampler): how the model's colours were sampled."""
        return self.prior.sampler_record(steps)

    def generate(self, request, hooks):
        plan, colours = self.look_colours(request, hooks)
        ratios = colour_ratios(request.object_names, colours)
        grade, understood, ignored = grade_for(request.prompt)
        frames = np.empty((request.num_frames, request.height, request.width, 3), np.uint8)
        for index, (clay, ids) in enumerate(zip(request.controls["shading"], request.controls["objects"])):
            hooks.check_cancel()
            frames[index] = appearance.compose(np.asarray(clay.convert("RGB")), np.asarray(ids, np.int64), ratios)
            if grade is not None:
                frames[index] = grade.apply(frames[index])
        if request.shot_reference is not None:
            take_stats, target_stats = take_statistics(frames), lab_statistics(request.shot_reference)
            for index in range(len(frames)):
                hooks.check_cancel()
                frames[index] = transfer(frames[index], take_stats, target_stats)
        self.notes = TakeNotes(look=TakeLook(look_seed=plan.look_seed, objects=colours,
                                             sampler=self.look_sampler(request.steps)),
                               understood=plan.understood + understood, ignored=plan.ignored + ignored,
                               grade=grade.name if grade is not None else None)
        return frames

    def take_notes(self):
        return self.notes
