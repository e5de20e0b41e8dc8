"""Takes in the Video Sequence Editor: image-sequence strips, accepting one, control strips.

The one place that knows Blender 4.2 calls the editor's strips `sequences` and Blender 5.0
`strips` (and their other renames); everything else goes through `strip_collection`,
`all_strips`, `new_image_strip` and `new_text_strip`. Layout decisions (channels, names,
properties) come from the bpy-free `addon.strip_layout`. Only strips Blockcast added are
ever moved or removed.
"""

from pathlib import Path

from ...engine.bundle.take_record import read_take
from .. import review_images, strip_layout
from ..strip_layout import PREFIX, ShotBlock


def strip_collection(editor):
    """Top-level strips, where new ones are added (5.0: `strips`, 4.2: `sequences`)."""
    return editor.strips if hasattr(editor, "strips") else editor.sequences


def all_strips(editor):
    """Every strip, inside meta strips too (5.0: `strips_all`, 4.2: `sequences_all`)."""
    return editor.strips_all if hasattr(editor, "strips_all") else editor.sequences_all


def sequence_editor(scene, create=False):
    if scene.sequence_editor is None and create:
        scene.sequence_editor_create()
    return scene.sequence_editor


def occupied(editor):
    """(channel, first frame, end frame exclusive) of every top-level strip."""
    return [(s.channel, s.frame_final_start, s.frame_final_end) for s in strip_collection(editor)]


def channel_names(editor):
    return {index: channel.name for index, channel in enumerate(editor.channels) if index > 0}


def _name_channels(editor, names):
    for channel, name in names.items():
        editor.channels[channel].name = name


def is_take(strip):
    return strip.get(PREFIX + "take_json") is not None


def shot_takes(scene, shot):
    """The take strips of `shot`, lowest channel first."""
    editor = sequence_editor(scene)
    if editor is None:
        return []
    takes = [s for s in all_strips(editor) if is_take(s) and s.get(PREFIX + "shot") == shot]
    return sorted(takes, key=lambda s: (s.channel, s.frame_final_start))


def shots_with_takes(scene):
    """The shots that have take strips, in channel order (the order their blocks stack)."""
    editor = sequence_editor(scene)
    lowest = {}
    for strip in (all_strips(editor) if editor is not None else []):
        if is_take(strip):
            shot = strip[PREFIX + "shot"]
            lowest[shot] = min(lowest.get(shot, strip.channel), strip.channel)
    return sorted(lowest, key=lambda shot: (lowest[shot], shot))


def find_take(scene, name):
    editor = sequence_editor(scene)
    strip = all_strips(editor).get(name) if editor is not None else None
    return strip if strip is not None and is_take(strip) else None


def new_image_strip(editor, name, files, channel, frame_start, sharp=False):
    """An image-sequence strip of `files` (all in one folder), removed again if filling it fails;
    `sharp` scales it without blending neighbouring pixels (object colours stay apart)."""
    strips = strip_collection(editor)
    strip = strips.new_image(name=name, filepath=str(files[0]), channel=channel, frame_start=frame_start,
                             fit_method="FIT")
    if sharp:
        strip.transform.filter = "NEAREST"
    try:
        for path in files[1:]:
            strip.elements.append(Path(path).name)
    except Exception:
        strips.remove(strip)
        raise
    return strip


def new_text_strip(editor, name, text, channel, frame_start, length, location, size):
    """A left-aligned text strip (5.0 names its length and alignment differently from 4.2)."""
    span = {"length": length} if hasattr(editor, "strips") else {"frame_end": frame_start + length}
    strip = strip_collection(editor).new_effect(name=name, type="TEXT", channel=channel, frame_start=frame_start,
                                                **span)
    strip.text, strip.location, strip.font_size = text, location, size
    setattr(strip, "anchor_x" if hasattr(strip, "anchor_x") else "align_x", "LEFT")
    strip.use_shadow = True
    return strip


def add_takes(scene, take_dirs, shot):
    """One strip per finished take folder, in the shot's channel block; returns the new strips.
    If the shot has no accepted take yet, the first new one is accepted (plays, on the shot's
    home channel); the rest arrive muted on its alternate channels."""
    records = [(Path(d), read_take(d)) for d in take_dirs]
    if not records:
        return []
    editor = sequence_editor(scene, create=True)
    first, last = records[0][1].bundle.frame_range()
    has_accepted = any(s.get(PREFIX + "accepted") for s in shot_takes(scene, shot))
    plan = strip_layout.plan_takes(len(records), first, last + 1, occupied(editor), channel_names(editor), shot,
                                   has_accepted)
    added = []
    for (take_dir, record), (channel, accept) in zip(records, plan.slots):
        frames = [take_dir / relative for relative in record.frames]
        strip = new_image_strip(editor, strip_layout.take_strip_name(shot, record.take), frames, channel,
                                record.bundle.frame_range()[0])
        for key, value in strip_layout.take_properties(record, take_dir, shot).items():
            strip[key] = value
        strip[PREFIX + "accepted"] = accept
        strip.mute = not accept
        added.append(strip)
    _name_channels(editor, plan.names)
    return added


def _overlap(strip, other):
    return strip.frame_final_start < other.frame_final_end and other.frame_final_start < strip.frame_final_end


def _swap_home(editor, strip):
    """Put `strip` on its shot's home channel, the take there onto `strip`'s old channel.
    Nothing happens when the home channel holds, over the take's frames, a strip that is not
    one of the shot's takes (it is not Blockcast's to move)."""
    shot = strip[PREFIX + "shot"]
    home = ShotBlock.read(channel_names(editor), shot).home
    if home is None or strip.channel == home:
        return
    there = [s for s in strip_collection(editor) if s.channel == home and _overlap(strip, s)]
    if any(not (is_take(s) and s.get(PREFIX + "shot") == shot) for s in there):
        return
    old = strip.channel
    strip.channel = strip_layout.free_channel(strip.frame_final_start, strip.frame_final_end, occupied(editor),
                                              avoid={home, old})
    for take in there:
        take.channel = old
    strip.channel = home


def accept_take(scene, strip):
    """`strip` plays from its shot's home channel; the take that was there swaps onto its
    channel; the shot's other takes stay, muted."""
    for take in shot_takes(scene, strip[PREFIX + "shot"]):
        chosen = take == strip
        take[PREFIX + "accepted"] = chosen
        take.mute = not chosen
    _swap_home(sequence_editor(scene), strip)


def control_files(strip):
    """(record, {kind: image files}) of the control images the take's model saw, the objects
    control coloured (addon.review_images); kinds without images (camera) are left out.
    Raises TakeRecordError for a damaged take.json, OSError when the bundle cannot be written."""
    record = read_take(Path(strip[PREFIX + "take_json"]).parent)
    files = {kind: record.bundle.control_frames(kind) for kind in record.parameters.controls}
    return record, {kind: review_images.review_files(kind, found) for kind, found in files.items() if found}


def add_control_strips(scene, strip, record, files_by_kind):
    """The take's control images (`files_by_kind`, from `control_files`) as muted full-frame
    strips on its shot's "<shot> <kind> control" channels over the take's frames: unmute one
    to see that pass in place of the take. The shot's channels show one take's controls: those
    of another take are replaced. Returns the new strips ([] when this take's are there)."""
    editor = sequence_editor(scene, create=True)
    shot = strip[PREFIX + "shot"]
    ours = [s for s in strip_collection(editor) if s.get(PREFIX + "control") and s.get(PREFIX + "shot") == shot]
    if ours and {(s.get(PREFIX + "control_of"), s[PREFIX + "control"]) for s in ours} == {
            (strip.name, kind) for kind in files_by_kind}:
        return []
    for control in ours:
        strip_collection(editor).remove(control)
    first, last = record.bundle.frame_range()
    channels, names = strip_layout.plan_controls(list(files_by_kind), first, last + 1, occupied(editor),
                                                 channel_names(editor), shot)
    added = []
    for kind, files in files_by_kind.items():
        control = new_image_strip(editor, strip_layout.control_name(shot, kind), files, channels[kind], first,
                                  sharp=kind == review_images.OBJECTS)
        control.mute = True
        control[PREFIX + "shot"], control[PREFIX + "control"] = shot, kind
        control[PREFIX + "control_of"] = strip.name
        added.append(control)
    _name_channels(editor, names)
    return added
