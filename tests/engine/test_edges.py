"""The edges control (engine/edges.py): lines exactly on silhouettes and depth steps, 1 pixel
wide on the nearer side, checked on synthetic depth/id arrays whose edges are known."""

import numpy as np
import pytest

from engine.edges import edge_map


def _box_on_wall(h=12, w=16):
    """A wall (id 1, 10 m) behind a box (id 2, 4 m) at rows 3..7, columns 5..10."""
    depth = np.full((h, w), 10.0)
    ids = np.ones((h, w), np.uint16)
    depth[3:8, 5:11], ids[3:8, 5:11] = 4.0, 2
    return depth, ids


def test_a_silhouette_is_the_outline_of_the_nearer_object_one_pixel_wide():
    depth, ids = _box_on_wall()
    edges = edge_map(depth, ids)
    expected = np.zeros(depth.shape, np.uint8)
    expected[3:8, 5:11] = 255
    expected[4:7, 6:10] = 0  # the box's border ring, on the box (nearer), nothing on the wall
    assert edges.dtype == np.uint8 and np.array_equal(edges, expected)


def test_an_object_against_background_is_outlined_on_the_object():
    depth = np.full((6, 6), np.inf)
    ids = np.zeros((6, 6), np.uint16)
    depth[2:4, 2:4], ids[2:4, 2:4] = 3.0, 5
    edges = edge_map(depth, ids)
    assert np.array_equal(edges > 0, ids > 0)  # a 2x2 object is all border


def test_a_depth_step_within_one_object_is_an_edge_and_a_slope_is_not():
    depth = np.tile(np.linspace(5.0, 6.0, 10), (4, 1))  # 1 m over 10 columns: < 10 % per pixel
    depth[:, 6:] += 2.0  # a step of 2 m between columns 5 and 6
    ids = np.ones(depth.shape, np.uint16)
    edges = edge_map(depth, ids)
    expected = np.zeros(depth.shape, np.uint8)
    expected[:, 5] = 255  # the nearer side of the step
    assert np.array_equal(edges, expected)
    assert not edge_map(depth, ids, relative_jump=0.5).any()  # a step under the threshold is no edge


def test_two_objects_touching_at_one_depth_still_part_at_the_id_change():
    depth = np.full((3, 4), 2.0)
    ids = np.array([[1, 1, 2, 2]] * 3, np.uint16)
    edges = edge_map(depth, ids)
    assert np.array_equal(edges[:, 1:3], [[255, 0]] * 3) and not edges[:, [0, 3]].any()


def test_no_depth_hit_is_background_whatever_the_index_says():
    depth = np.array([[np.inf, 2.0]])
    assert edge_map(depth, np.array([[3, 3]], np.uint16)).tolist() == [[0, 255]]


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="one size"):
        edge_map(np.zeros((2, 3)), np.zeros((3, 2)))


@pytest.fixture(scope="module")
def demo_edges_bundle(demo_blend, tmp_path_factory):
    """Two frames of the demo scene (actors, table, walls) with depth, objects and tracking, 128x72."""
    from conftest import export_demo_bundle
    return export_demo_bundle(tmp_path_factory, demo_blend, "edges", "depth,objects,tracking", frames="1-2")


def test_edges_and_tracking_controls_of_an_exported_scene(demo_edges_bundle):
    from PIL import Image

    from engine import controls
    from engine.bundle import read_bundle
    from engine.bundle.depth import CONTROL_MAX
    from engine.imaging import resize_cover

    bundle = read_bundle(demo_edges_bundle)
    native = controls.build_controls(bundle, ["edges", "tracking"], bundle.width, bundle.height)
    for frame, edges, tracking in zip(bundle.frames, native["edges"], native["tracking"]):
        exact = edge_map(bundle.depth(frame), bundle.object_index(frame))
        assert np.array_equal(np.asarray(edges), np.repeat(exact[:, :, None], 3, axis=2))
        assert 0 < exact.mean() / 255 < 0.25  # lines, not areas
        expected = np.rint(bundle.tracking_control(frame) * (255.0 / CONTROL_MAX)).astype(np.uint8)
        assert np.array_equal(np.asarray(tracking), expected)
    width, height = 96, 64  # another aspect: cover-and-crop, as every control
    resized = controls.build_controls(bundle, ["edges", "tracking"], width, height)
    depth = np.asarray(resize_cover(Image.fromarray(bundle.depth(1)), width, height, resample=Image.NEAREST))
    ids = np.asarray(resize_cover(Image.fromarray(bundle.object_index(1).astype(np.uint16)), width, height,
                                  resample=Image.NEAREST))
    assert np.array_equal(np.asarray(resized["edges"][0])[:, :, 0], edge_map(depth, ids))
    assert np.asarray(resized["tracking"][0]).shape == (height, width, 3)
    review = controls.write_review(bundle, resized)
    assert sorted(p.name for p in (review / "edges").iterdir()) == ["0001.png", "0002.png"]


def test_the_edges_control_names_both_passes_it_needs(demo_edges_bundle, tmp_path):
    import json
    import shutil

    from engine import controls
    from engine.bundle import BundleError, read_bundle

    copy = tmp_path / "no_objects"
    shutil.copytree(demo_edges_bundle, copy)
    manifest = json.loads((copy / "bundle.json").read_text(encoding="utf-8"))
    del manifest["passes"]["objects"]
    (copy / "bundle.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(BundleError, match=r"no objects pass, which the edges control needs: re-export with "
                                          r"--passes including depth,objects"):
        controls.build_controls(read_bundle(copy), ["edges"], 64, 64)
