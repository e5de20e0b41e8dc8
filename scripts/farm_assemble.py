"""The farm job's last task: every take into the sequencer of a new .blend, plus preview MP4s.

    blender -b --factory-startup --python-exit-code 1 -P scripts/farm_assemble.py -- --output-dir OUTPUT --shots A,B
    python scripts/farm_assemble.py --output-dir OUTPUT --shots A,B                    (bpy module)

Writes OUTPUT/edit/takes.blend: each shot's takes at the shot's own frames, on channels named
after the shot (the add-on's sequencer import, as after Generate in the panel: the first take
plays, the others are muted variations), image paths relative to the .blend; and
OUTPUT/edit/cut-take-NN.mp4: the cut with every shot's NN-th take. Every file is written
under a temporary name and renamed into place; edit/assembly.json (written last) lists the
takes with their records' sha256, and a re-run with the same takes does nothing.
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blockcast_import import REPO_ROOT, import_blockcast  # noqa: E402
from export_passes import script_args  # noqa: E402

EDIT_BLEND, RECORD = "takes.blend", "assembly.json"


def shot_takes(output_dir, shot_folders):
    """{shot folder: [take dir, ...]} in seed order; bundles/SHOT/bundle.json names each shot."""
    from engine.bundle.take_record import TAKE_RECORD, read_take
    from farm import layout

    found = {}
    for folder in shot_folders:
        takes = [p.parent for p in (output_dir / layout.TAKES / folder).glob(f"batch-*/take-*/{TAKE_RECORD}")]
        if not takes:
            raise FileNotFoundError(f"no takes for shot {folder} in {output_dir / layout.TAKES / folder}: "
                                    "run its generation tasks first")
        found[folder] = sorted(takes, key=lambda d: (read_take(d).seed, d.name))
    return found


def assembly_record(takes):
    """edit/assembly.json: per shot folder, each take folder and its take record's sha256."""
    from engine.bundle.take_record import TAKE_RECORD

    return {folder: [{"take": str(d), "sha256": hashlib.sha256((d / TAKE_RECORD).read_bytes()).hexdigest()}
                     for d in dirs] for folder, dirs in takes.items()}


def render_cut(scene, path):
    """The sequencer's playing strips as an H.264 MP4 at `path` (written aside, then renamed)."""
    render = scene.render
    if hasattr(render.image_settings, "media_type"):  # Blender 5.0 splits images from videos
        render.image_settings.media_type = "VIDEO"
    render.image_settings.file_format = "FFMPEG"
    render.ffmpeg.format, render.ffmpeg.codec = "MPEG4", "H264"
    render.use_file_extension = False
    temp = path.with_name(f".{path.name}.partial.mp4")
    render.filepath = str(temp)
    import bpy

    bpy.ops.render.render(animation=True)
    temp.replace(path)


def assemble(output_dir, shot_folders, edit_dir):
    import bpy
    from blockcast.addon.blender.blend_files import save_blend
    from blockcast.addon.blender.sequencer import accept_take, add_takes, all_strips

    from engine.bundle import read_bundle
    from farm import layout

    takes = shot_takes(output_dir, shot_folders)
    bundles = {folder: read_bundle(output_dir / layout.BUNDLES / folder) for folder in shot_folders}
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    first = next(iter(bundles.values()))
    scene.render.resolution_x, scene.render.resolution_y = first.width, first.height
    scene.render.resolution_percentage = 100
    scene.view_settings.view_transform = "Standard"  # the takes' pixels as they are, not tone-mapped
    scene.render.fps, scene.render.fps_base = round(first.fps), round(first.fps) / first.fps
    scene.frame_start = min(b.frames[0] for b in bundles.values())
    scene.frame_end = max(b.frames[-1] for b in bundles.values())
    strips = {folder: add_takes(scene, takes[folder], bundles[folder].name) for folder in shot_folders}
    edit_dir.mkdir(parents=True, exist_ok=True)
    for index in range(max(len(s) for s in strips.values())):
        for shot_strips in strips.values():
            accept_take(scene, shot_strips[min(index, len(shot_strips) - 1)])
        render_cut(scene, edit_dir / f"cut-take-{index + 1:02d}.mp4")
    for shot_strips in strips.values():
        accept_take(scene, shot_strips[0])
    for strip in all_strips(scene.sequence_editor):  # the edit moves with the output folder
        strip.directory = bpy.path.relpath(strip.directory, start=str(edit_dir))
    save_blend(edit_dir / EDIT_BLEND, relative_remap=False)
    return takes


def main(argv=None):
    parser = argparse.ArgumentParser(prog="farm_assemble", description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", required=True, type=Path, help="the farm job's output folder")
    parser.add_argument("--shots", required=True, help="comma-separated shot folders, in edit order")
    args = parser.parse_args(script_args(sys.argv if argv is None else argv))
    import_blockcast()
    sys.path.insert(0, str(REPO_ROOT))
    from engine.bundle import BundleError
    from farm import layout

    output_dir = args.output_dir.absolute()
    edit_dir, folders = output_dir / layout.EDIT, [f for f in args.shots.split(",") if f]
    outside = [folder for folder in folders if folder != layout.shot_folder(folder)]
    if outside:  # e.g. '..': every shot folder is one name below takes/ and bundles/, as the job writers make them
        print(f"farm_assemble: error: --shots {outside[0]!r} is not a shot folder name (letters, digits, '.', '_', "
              "'-'): pass the folder names the job writer made", file=sys.stderr)
        return 2
    try:
        record_path = edit_dir / RECORD
        current = assembly_record(shot_takes(output_dir, folders))
        if (record_path.is_file() and json.loads(record_path.read_text()) == current
                and (edit_dir / EDIT_BLEND).is_file()):
            print(f"farm_assemble: {edit_dir} already holds these takes; nothing to do")
            return 0
        takes = assemble(output_dir, folders, edit_dir)
    except (BundleError, FileNotFoundError, ValueError) as exc:
        print(f"farm_assemble: error: {exc}", file=sys.stderr)
        return 1
    temp = edit_dir / f".{RECORD}.partial"
    temp.write_text(json.dumps(assembly_record(takes), indent=1) + "\n", encoding="utf-8")
    temp.replace(record_path)
    print(f"farm_assemble: wrote {edit_dir / EDIT_BLEND} with {sum(map(len, takes.values()))} take(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
