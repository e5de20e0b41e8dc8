"""Camera conventions of the pass bundle: Blender camera in, OpenCV pinhole out.

Pixels follow OpenCV's pixel-centre convention: pixel (0, 0)'s centre is at (0, 0), so the
image spans [-0.5, W - 0.5). Camera axes are OpenCV's: x right, y down, z forward.

RealEstate10K / CameraCtrl text stores cx/W and cy/H with the pixel-EDGE principal point
(cx + 0.5) / W, so a centred camera writes 0.5 as RealEstate10K's own files do. Reason:
CameraCtrl's `ray_condition` (cameractrl/data/dataset.py) builds rays from pixel index + 0.5,
i.e. it samples pixel centres at i + 0.5 and measures cx from the image's left edge; feeding
it the pixel-centre cx would shift every ray by half a pixel.
"""

import numpy as np

# Blender camera (-Z forward, +Y up) to OpenCV camera (+Z forward, +Y down).
_BLENDER_TO_OPENCV = np.diag([1.0, -1.0, -1.0, 1.0])


def render_size(resolution_x, resolution_y, percentage):
    """Output size in pixels, truncated the way Blender's render does it."""
    return int(resolution_x * percentage / 100), int(resolution_y * percentage / 100)


def intrinsics(lens_mm, sensor_width_mm, sensor_height_mm, sensor_fit, shift_x, shift_y,
               width_px, height_px, pixel_aspect_x=1.0, pixel_aspect_y=1.0):
    """(fx, fy, cx, cy) in pixels, mirroring BKE_camera_params_compute_viewplane.

    AUTO fits the wider side (measured with pixel aspect) but keeps the sensor width;
    only an explicit VERTICAL fit uses the sensor height. Shift is in units of the fitted side.
    """
    pa = pixel_aspect_y / pixel_aspect_x
    if sensor_fit == "AUTO":
        horizontal = width_px * pixel_aspect_x >= height_px * pixel_aspect_y
    else:
        horizontal = sensor_fit == "HORIZONTAL"
    sensor = sensor_height_mm if sensor_fit == "VERTICAL" else sensor_width_mm
    view = width_px if horizontal else pa * height_px
    fx = lens_mm * view / sensor
    fy = fx / pa
    cx = width_px / 2 - shift_x * view - 0.5
    cy = height_px / 2 + shift_y * view / pa - 0.5
    return fx, fy, cx, cy


def intrinsics_matrix(fx, fy, cx, cy):
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def opencv_camera_to_world(matrix_world):
    """c2w in OpenCV axes; object scale is dropped because Blender renders without it."""
    c2w = np.array(matrix_world, dtype=np.float64)
    c2w[:3, :3] /= np.linalg.norm(c2w[:3, :3], axis=0)
    return c2w @ _BLENDER_TO_OPENCV


def world_to_opencv_camera(matrix_world):
    """w2c in OpenCV axes: the rigid inverse of `opencv_camera_to_world`."""
    c2w = opencv_camera_to_world(matrix_world)
    w2c = np.eye(4)
    w2c[:3, :3] = c2w[:3, :3].T
    w2c[:3, 3] = -c2w[:3, :3].T @ c2w[:3, 3]
    return w2c


def project_points(points_world, K, w2c):
    """Pixel coordinates (N, 2) and planar depth (N,), positive in front of the camera."""
    points = np.asarray(points_world, dtype=np.float64)
    cam = points @ w2c[:3, :3].T + w2c[:3, 3]
    depth = cam[:, 2]
    pixels = (cam @ np.asarray(K).T)[:, :2] / depth[:, None]
    return pixels, depth


def format_re10k(frames, width, height, comment):
    """RealEstate10K text from pixel-centre intrinsics; cx/W, cy/H are written pixel-edge
    (see the module docstring). Floats use "{:.17g}" so the matrices parse back exactly."""
    if "\n" in comment:
        raise ValueError("the RealEstate10K comment must be a single line")
    lines = [comment]
    for f in frames:
        values = [f["fx"] / width, f["fy"] / height,
                  (f["cx"] + 0.5) / width, (f["cy"] + 0.5) / height, 0.0, 0.0]
        values += np.asarray(f["w2c"], dtype=np.float64)[:3].ravel().tolist()
        numbers = ["{:.17g}".format(v) for v in values]
        lines.append(" ".join([str(int(f["timestamp_us"]))] + numbers))
    return "\n".join(lines) + "\n"


def parse_re10k(text, width, height):
    """Inverse of `format_re10k`: the first line is skipped, cx/cy come back pixel-centre."""
    frames = []
    for line in text.splitlines()[1:]:
        if not line.strip():
            continue
        values = line.split()
        n = [float(v) for v in values[1:]]
        w2c = np.eye(4)
        w2c[:3] = np.array(n[6:18]).reshape(3, 4)
        frames.append({
            "timestamp_us": int(values[0]),
            "fx": n[0] * width, "fy": n[1] * height,
            "cx": n[2] * width - 0.5, "cy": n[3] * height - 0.5,
            "w2c": w2c,
        })
    return frames


def re10k_from_records(records, shot_name, frame_start, fps, width, height):
    """The bundle's camera_re10k.txt from its per-frame camera records (timestamps count from
    the shot's first frame, so a shot exported in chunks and merged gives the same file)."""
    frames = [
        {**{key: record[key] for key in ("fx", "fy", "cx", "cy")},
         "timestamp_us": int(round((record["frame"] - frame_start) / fps * 1e6)),
         "w2c": record["w2c_opencv"]}
        for record in records
    ]
    return format_re10k(frames, width, height, f"blockcast shot {shot_name}")
