"""What a farm job is made of: the shots of one .blend and how to generate their takes.

Both job writers (Open Job Description and Flamenco) start from a FarmJob, so the two
farms run the same tasks with the same arguments.
"""

from dataclasses import dataclass, field

from .layout import LayoutError, chunk_ranges, format_range, shot_folder

# The engine's defaults and the passes each built-in backend cannot do without come from the
# stdlib-only modules of engine/bundle/, which ship beside farm/ in the extension. The job writers
# run without the engine's environment, so they cannot ask it; a backend not in BACKEND_PASSES
# needs none, or is a plug-in: its generation task then says which passes the bundle lacks.
if __package__ == "farm":  # the checkout's farm/, imported by scripts with the repository on sys.path
    from engine.bundle.backend_passes import BACKEND_PASSES
    from engine.bundle.request import DEFAULT_BACKEND, DEVICES, MEMORY_PRESETS
    from engine.bundle.schema import DEFAULT_PASSES as _BUNDLE_PASSES
else:  # the add-on's copy (`blockcast.farm`), beside the extension's engine/bundle/
    from ..engine.bundle.backend_passes import BACKEND_PASSES
    from ..engine.bundle.request import DEFAULT_BACKEND, DEVICES, MEMORY_PRESETS
    from ..engine.bundle.schema import DEFAULT_PASSES as _BUNDLE_PASSES

DEFAULT_PASSES = ",".join(_BUNDLE_PASSES)  # the artist's choice, as --passes text; a job adds its backend's
# Backends made to run on a CPU: their generation tasks go to any worker, not only GPU ones.
CPU_BACKENDS = {"previz"}


def _pass_names(passes):
    return [name.strip() for name in passes.split(",") if name.strip()]


def added_passes(passes, backend):
    """The passes `backend` needs that `passes` ('depth,pose,camera') lacks."""
    return [name for name in BACKEND_PASSES.get(backend, ()) if name not in _pass_names(passes)]


def passes_for_backend(passes, backend):
    """`passes` plus those `backend` needs, so the export gives generation the bundle it asks for
    (previz: + shading,normal,objects, which Cycles renders more slowly)."""
    return ",".join(_pass_names(passes) + added_passes(passes, backend))


@dataclass(frozen=True)
class FarmShot:
    name: str          # as in the .blend (a camera-bound marker, or the scene for the scene camera)
    frame_start: int
    frame_end: int
    prompt: str | None = None   # the shot's own (Generate panel ▸ Set Up Shot); None: the job's
    seed: int | None = None     # its first take's seed; None: the job's

    @property
    def has_own_settings(self):
        return self.prompt is not None or self.seed is not None

    @property
    def folder(self):
        return shot_folder(self.name)

    def chunks(self, chunk_size):
        return [format_range(a, b) for a, b in chunk_ranges(self.frame_start, self.frame_end, chunk_size)]


@dataclass
class FarmJob:
    name: str
    scene: str
    shots: list
    chunk_size: int = 24
    takes: int = 1
    takes_per_task: int = 1
    seed: int = 0
    backend: str = DEFAULT_BACKEND
    passes: str = DEFAULT_PASSES
    prompt: str = ""
    steps: int = 0                  # 0: the backend's default
    generation_size: str = ""       # "": the backend's default
    models: list = field(default_factory=list)  # ["ROLE=ID_OR_PATH", ...]
    allow_cpu_generation: bool = False
    memory: str = "auto"            # the engine's --memory (MEMORY_PRESETS); auto: what each worker's GPU allows

    def __post_init__(self):
        if not self.shots:
            raise LayoutError("a farm job needs at least one shot")
        folders = [shot.folder for shot in self.shots]
        clashes = sorted({f for f in folders if folders.count(f) > 1})
        if clashes:
            raise LayoutError(f"shots {', '.join(s.name for s in self.shots if s.folder in clashes)} share the "
                              f"output folder name {clashes[0]!r}: rename one of them")
        for number, label in ((self.chunk_size, "chunk size"), (self.takes, "takes"),
                              (self.takes_per_task, "takes per task")):
            if number < 1:
                raise LayoutError(f"{label} must be at least 1, not {number}")
        split = [shot.name for shot in self.shots if len(shot.chunks(self.chunk_size)) > 1]
        if "tracking" in _pass_names(self.export_passes) and split:
            longest = max(shot.frame_end - shot.frame_start + 1 for shot in self.shots)
            raise LayoutError(f"the tracking pass is fixed at each shot's first frame, so shot {split[0]} cannot be "
                              f"exported in chunks: set Frames per Task (--chunk) to at least {longest}, or leave "
                              "the tracking pass out")
        if self.memory not in MEMORY_PRESETS:
            raise LayoutError(f"memory {self.memory!r} is not one of {', '.join(MEMORY_PRESETS)}")
        for model in self.models:  # the farms carry the overrides as one ';'-separated value
            if ";" in model:
                raise LayoutError(f"model override {model!r} contains ';', which separates overrides on the farm: "
                                  "rename or link the model folder")

    def shot_prompt(self, shot):
        """The prompt of `shot`'s takes: its own when it has one, else the job's."""
        return self.prompt if shot.prompt is None else shot.prompt

    def shot_seed(self, shot):
        return self.seed if shot.seed is None else shot.seed

    @property
    def export_passes(self):
        """What the export tasks export: the chosen passes and those the backend needs."""
        return passes_for_backend(self.passes, self.backend)

    @property
    def cpu_generation(self):
        """Whether generation may run on CPU workers: asked for, or a backend made for CPUs (previz)."""
        return self.allow_cpu_generation or self.backend in CPU_BACKENDS

    @property
    def device(self):
        """A GPU job fails rather than crawl on a CPU; a CPU-allowed one takes what is there."""
        return "auto" if self.cpu_generation else "cuda"


def select_shots(all_shots, wanted=None):
    """The shots named in `wanted` (in the .blend's order), or all; an unknown name is an error."""
    if not wanted:
        return list(all_shots)
    names = [shot.name for shot in all_shots]
    unknown = [name for name in wanted if name not in names]
    if unknown:
        raise LayoutError(f"no shot named {', '.join(map(repr, unknown))}: the scene has {', '.join(names)}")
    return [shot for shot in all_shots if shot.name in wanted]
