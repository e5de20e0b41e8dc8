"""Takes in the Video Sequence Editor: image-sequence strips, accepting one, review strips.

The one place that knows Blender 4.2 calls the editor's strips `sequences` and Blender 5.0
`strips`; everything else goes through `strip_collection` and `all_strips`. Layout
decisions (channels, names, properties) come from the bpy-free `addon.strip_layout`.
"""

from pathlib import Path

from ...engine.bundle.take_record import read_take
from .. import strip_layout
from ..strip_layout import PREFIX


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


def _occupied(editor):
    return [(s.channel, s.frame_final_start, s.frame_final_end) for s in strip_collection(editor)]


def _channel_names(editor):
    return {index: channel.name for index, channel in enumerate(editor.channels) if index > 0}


def is_take(strip):
    return strip.get(PREFIX + "take_json") is not None


def shot_takes(scene, shot):
    """The take strips of `shot`, lowest channel first."""
    editor = sequence_editor(scene)
    if editor is None:
        return []
    takes = [s for s in all_strips(editor) if is_take(s) and s.get(PREFIX + "shot") == shot]
    return sorted(takes, key=lambda s: (s.channel, s.frame_final_start))


def find_take(scene, name):
    editor = sequence_editor(scene)
    strip = all_strips(editor).get(name) if editor is not None else None
    return strip if strip is not None and is_take(strip) else None


def _new_image_strip(editor, name, files, channel, frame_start):
    """An image-sequence strip of `files` (all in one folder), removed again if filling it fails."""
    strips = strip_collection(editor)
    strip = strips.new_image(name=name, filepath=str(files[0]), channel=channel, frame_start=frame_start,
                             fit_method="FIT")
    try:
        for path in files[1:]:
            strip.elements.append(Path(path).name)
    except Exception:
        strips.remove(strip)
        raise
    return strip


def add_takes(scene, take_dirs, shot):
    """One strip per finished take folder, on the shot's channels; returns the new strips.
    If the shot has no accepted take yet, the first new one is accepted (plays); the rest
    arrive muted."""
    records = [(Path(d), read_take(d)) for d in take_dirs]
    if not records:
        return []
    editor = sequence_editor(scene, create=True)
    first, last = records[0][1].bundle.frame_range()
    home, channels = strip_layout.pick_channels(len(records), first, last + 1, _occupied(editor),
                                                _channel_names(editor), shot)
    has_accepted = any(s.get(PREFIX + "accepted") for s in shot_takes(scene, shot))
    added = []
    for (take_dir, record), channel in zip(records, channels):
        frames = [take_dir / relative for relative in record.frames]
        strip = _new_image_strip(editor, strip_layout.take_strip_name(shot, record.take), frames, channel,
                                 record.bundle.frame_range()[0])
        for key, value in strip_layout.take_properties(record, take_dir, shot).items():
            strip[key] = value
        accept = not has_accepted and not added
        strip[PREFIX + "accepted"] = accept
        strip.mute = not accept
        added.append(strip)
    if home is not None:
        editor.channels[home].name = shot
    return added


def accept_take(scene, strip):
    """`strip` plays; the shot's other takes stay, muted."""
    for take in shot_takes(scene, strip[PREFIX + "shot"]):
        chosen = take == strip
        take[PREFIX + "accepted"] = chosen
        take.mute = not chosen


def add_control_strips(scene, strip):
    """The control images the take's model saw (depth, pose...) as inset strips on channels
    above the shot's takes, over the take's frames; returns the new strips (none already there)."""
    record = read_take(Path(strip[PREFIX + "take_json"]).parent)
    editor = sequence_editor(scene, create=True)
    first, last = record.bundle.frame_range()
    shot = strip[PREFIX + "shot"]
    existing = {(s.get(PREFIX + "control_of"), s.get(PREFIX + "control")) for s in all_strips(editor)}
    kinds = [kind for kind in record.parameters.controls
             if (strip.name, kind) not in existing and record.bundle.control_frames(kind)]
    if not kinds:
        return []
    above = strip_layout.channels_above(s.channel for s in shot_takes(scene, shot))
    _, channels = strip_layout.pick_channels(len(kinds), first, last + 1, _occupied(editor),
                                              _channel_names(editor), shot, lowest=above)
    render = scene.render
    width = render.resolution_x * render.resolution_percentage / 100
    height = render.resolution_y * render.resolution_percentage / 100
    added = []
    for index, (kind, channel) in enumerate(zip(kinds, channels)):
        control = _new_image_strip(editor, f"{shot} {kind} control", record.bundle.control_frames(kind), channel,
                                   first)
        scale, offset_x, offset_y = strip_layout.inset_transform(index, width, height)
        control.transform.scale_x *= scale
        control.transform.scale_y *= scale
        control.transform.offset_x, control.transform.offset_y = offset_x, offset_y
        control[PREFIX + "shot"], control[PREFIX + "control"] = shot, kind
        control[PREFIX + "control_of"] = strip.name
        added.append(control)
    return added
