"""The contract every generation backend meets.

A backend is a small class: it declares what it accepts (controls, frame-count and size
rules, model roles with default hub ids) so the CLI can validate a request and find the
weights before anything heavy is imported, then `load`s its models once and `generate`s
one take per call. Class attributes stay torch-free so `python -m engine backends` is
instant; torch and diffusers are imported inside `load`.
"""

from dataclasses import dataclass, field

from ..bundle.take_record import TakeNotes


@dataclass(frozen=True)
class ModelRole:
    """One model a backend needs; `control` names the control it serves (loaded only when
    that control is used), or None when it is always needed."""

    name: str
    default_id: str
    description: str
    control: str | None = None


@dataclass
class Hooks:
    """Callbacks a backend calls while generating: progress per denoising step, and a
    cancel check that raises engine.progress.Cancelled at a safe point."""

    on_step: object = lambda step, total: None
    check_cancel: object = lambda: None

    def step_end_callback(self, timesteps=None):
        """A diffusers `callback_on_step_end` that reports each denoising step and checks cancel
        there (appending each step's timestep to `timesteps` when given)."""
        def on_step_end(pipeline, index, timestep, _tensors):
            if timesteps is not None:
                timesteps.append(float(timestep))
            self.on_step(index + 1, pipeline.num_timesteps)
            self.check_cancel()
            return {}

        return on_step_end


@dataclass(kw_only=True)
class Request:
    """One take's inputs, already at the generation size and frame count of the shot (built
    with keywords only: fifteen fields are too many to keep in order by position)."""

    prompt: str
    negative_prompt: str
    seed: int
    steps: int
    guidance: float
    weights: dict            # control kind -> weight, only the controls used
    controls: dict           # control kind -> list of PIL images (or camera dict)
    num_frames: int          # the shot's frame count
    width: int
    height: int
    init_video: list | None = None
    strength: float = 0.6
    # The cast (engine.bundle.cast.Cast) and what the engine read of it, for backends that
    # keep identity across shots; all optional so a backend that ignores them need not care.
    cast: object = None                  # the bundle's Cast
    object_names: list = field(default_factory=list)   # objects pass index k -> object_names[k-1]
    references: dict = field(default_factory=dict)     # cast member name -> list of PIL RGB images
    shot_reference: object = None        # PIL RGB image for the shot's palette/grade, or None
    # The blocking's lens for the effects in the backend's lens_controls (engine/lens/take.py
    # TakeLensPlan: depth_of_field, shutter, frame_record(frame) per shot frame), None when none applies.
    lens: object = None
    # The last frames of the previous shot's take (PIL RGB, at the generation size) that this take
    # continues from (--continue-from), for backends with carry_frames; empty when none.
    carry_over: list = field(default_factory=list)
    # The shot's frame rate (bundle.json shot.fps), for models whose positions are in seconds (LTX-2);
    # None from callers that do not know it.
    fps: float | None = None
    # The shot's own prompt, without the actors' descriptions `prompt` is composed with: what a previz
    # take grades by, for a backend that makes the previz look (sana-wm's first frame); None: `prompt`.
    shot_prompt: str | None = None


def snap(value, multiple):
    """Nearest positive multiple (halves round up)."""
    return max(multiple, int(value / multiple + 0.5) * multiple)


class Backend:
    """Subclass and fill in the class attributes; register with engine.backends.register."""

    name = ""
    description = ""
    controls = ()                 # control kinds accepted, e.g. ("depth", "pose")
    default_weights = {}          # weight per control kind when the user names none
    max_controls = None           # how many controls one take can use (None: all accepted)
    required_controls = ()        # controls every take needs (their passes must be in the bundle)
    roles = ()                    # ModelRole tuple
    default_steps = 25
    default_guidance = 7.5
    size_multiple = 8
    default_long_side = 512
    frame_rule = "any number of frames"
    supports_init_video = False
    settings = {}                 # what `load` chose (dtype, scheduler, ...), recorded in take.json
    ignores = ()                  # request fields it does not use, from IGNORABLE_INPUTS (engine/bundle/request.py)
    reference_controls = ()       # controls built (unweighted) when a take has cast references, e.g. the
                                  # objects pass that places each member's reference
    composite_passes = ()         # passes a take that combines several controls also needs (VACE's composite:
                                  # the actors' silhouettes, from the mask pass)
    lens_controls = ()            # lens effects it applies itself from Request.lens instead of the engine's
                                  # post-process: "depth_of_field", "motion_blur" (engine/lens/take.py LENS_EFFECTS)
    carry_frames = 0              # how many last frames of a --continue-from take it keeps (0: takes none)

    def size_rule(self):
        return f"width and height multiples of {self.size_multiple}; default long side {self.default_long_side}"

    def model_frames(self, shot_frames):
        """How many frames the model generates for a shot of `shot_frames` (>= it)."""
        return shot_frames

    def model_size(self, shot_w, shot_h, requested=None):
        """Generation size: the requested one, or the shot's aspect at the default long
        side, snapped to the size multiple."""
        if requested is None:
            scale = self.default_long_side / max(shot_w, shot_h)
            requested = (shot_w * scale, shot_h * scale)
        return snap(requested[0], self.size_multiple), snap(requested[1], self.size_multiple)

    def required_roles(self, controls):
        """Roles needed for these control kinds; the pseudo-control "references" stands for a
        take with cast or shot reference images (e.g. an IP-Adapter loads only then)."""
        return [role for role in self.roles if role.control is None or role.control in controls]

    def bundle_problem(self, bundle, weights):
        """What this bundle lacks for these controls beyond their own passes (one line saying what
        to do), or None; asked before any model loads."""
        return None

    def derived_controls(self, bundle, built, width, height):
        """{kind: frames} the backend makes from the `built` controls and the bundle, written for
        review with them (BUNDLE/controls/<kind>/); none here."""
        return {}

    def windows(self, num_frames):
        """[(start, end)] frame windows the model processes; one window unless overridden."""
        return [(0, self.model_frames(num_frames))]

    def load(self, models, controls, device):
        """Load weights. models: role -> engine.backends.models.ResolvedModel; controls: the
        control kinds that will be used; device: engine.backends.device.Device."""
        raise NotImplementedError

    def take_notes(self):
        """What the last `generate` made of the request, for its take record: a TakeNotes
        (engine.bundle.take_record), empty when it says nothing."""
        return TakeNotes()

    def generate(self, request, hooks):
        """Exactly request.num_frames frames (the shot's, whatever the model made) as an
        (F, height, width, 3) uint8 array at the generation size."""
        raise NotImplementedError
