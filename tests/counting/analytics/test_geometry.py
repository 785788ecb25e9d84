"""Polygon rasterisation against the exact crossing test, normalised coordinates, exclusions, ground points."""

from __future__ import annotations

import numpy as np
import pytest

from edgeanon.counting.analytics import ExclusionMask, Polygon, contains_exact, ground_points, to_pixels

W, H = 160, 120


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        pytest.param([(0, 0), (1, 1)], [(0, 0), (W, H)], id="corners"),
        pytest.param([(0.5, 0.25)], [(W / 2, H / 4)], id="inside"),
        pytest.param([0.25, 0.5], [(W / 4, H / 2)], id="flat-pair"),
    ],
)
def test_to_pixels(points, expected):
    np.testing.assert_allclose(to_pixels(points, (W, H)), expected)


@pytest.mark.parametrize("points", [[(1.2, 0.5)], [(-0.1, 0.5)], [(np.nan, 0.5)]])
def test_to_pixels_rejects_out_of_range(points):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        to_pixels(points, (W, H))


POLYGONS = {
    "square": [(20, 20), (100, 20), (100, 90), (20, 90)],
    "triangle": [(10.3, 110.7), (80.1, 5.2), (150.9, 100.4)],
    "concave": [(10, 10), (150, 10), (150, 110), (80, 40), (10, 110)],
    "bowtie": [(10, 10), (150, 110), (150, 10), (10, 110)],  # self-intersecting: even-odd rule
    "partly-outside": [(-50, -20), (100, 30), (200, 200)],
    "entirely-outside": [(200, 10), (300, 10), (300, 100)],
    "thin": [(30, 50), (130, 51), (30, 50.6)],
}


@pytest.mark.parametrize("name", POLYGONS)
def test_raster_agrees_with_exact_test_at_every_pixel_centre(name):
    poly = Polygon(POLYGONS[name], (W, H))
    yy, xx = np.mgrid[0:H, 0:W]
    centres = np.stack([xx.ravel() + 0.5, yy.ravel() + 0.5], axis=1)
    expected = contains_exact(POLYGONS[name], centres)
    np.testing.assert_array_equal(poly.contains(centres), expected)
    # any point in a pixel reads that pixel's centre
    jittered = centres + np.random.default_rng(0).uniform(-0.49, 0.49, centres.shape)
    np.testing.assert_array_equal(poly.contains(jittered), expected)


@pytest.mark.parametrize(
    ("point", "expected"),
    [
        pytest.param((50, 50), True, id="inside"),
        pytest.param((10, 50), False, id="left"),
        pytest.param((120, 50), False, id="right"),
        pytest.param((50, 100), False, id="below"),
        pytest.param((20.2, 20.2), True, id="near-corner-inside"),
        pytest.param((19.8, 50), False, id="just-outside-edge"),
    ],
)
def test_square_contains(point, expected):
    assert Polygon(POLYGONS["square"], (W, H)).contains(np.array([point], np.float32)).tolist() == [expected]


@pytest.mark.parametrize(
    ("point", "expected"),
    [
        pytest.param((50, H), True, id="anchor-on-bottom-edge"),
        pytest.param((50, H + 30), True, id="beyond-bottom-clamped"),
        pytest.param((-5, 100), True, id="beyond-left-clamped"),
        pytest.param((W, 100), False, id="right-edge-outside-zone"),
    ],
)
def test_points_are_clamped_to_the_frame(point, expected):
    bottom_left = Polygon([(0, 80), (80, 80), (80, H), (0, H)], (W, H))
    assert bottom_left.contains(np.array([point], float)).tolist() == [expected]


def test_from_normalized_matches_pixels():
    norm = [(0.1, 0.1), (0.6, 0.1), (0.6, 0.8)]
    a = Polygon.from_normalized(norm, (W, H))
    b = Polygon([(16, 12), (96, 12), (96, 96)], (W, H))
    pts = np.random.default_rng(1).uniform(0, 1, (500, 2)) * (W, H)
    np.testing.assert_array_equal(a.contains(pts), b.contains(pts))


@pytest.mark.parametrize("vertices", [[(0, 0), (1, 1)], [[0, 0, 0]], [(0, 0), (1, np.inf), (2, 0)]])
def test_polygon_rejects_bad_vertices(vertices):
    with pytest.raises(ValueError, match="polygon"):
        Polygon(vertices, (W, H))


@pytest.mark.parametrize(
    ("point", "keep"),
    [
        pytest.param((15, 15), False, id="in-first"),
        pytest.param((145, 95), False, id="in-second"),
        pytest.param((80, 60), True, id="in-neither"),
        pytest.param((35, 15), True, id="between"),
    ],
)
def test_exclusion_mask_keeps_points_inside_no_polygon(point, keep):
    ex = ExclusionMask([[(0, 0), (30, 0), (30, 30), (0, 30)], [(120, 90), (150, 90), (150, 110)]], (W, H))
    assert ex.keep(np.array([point], float)).tolist() == [keep]


def test_exclusion_mask_without_polygons_keeps_everything():
    assert ExclusionMask([], (W, H)).keep(np.array([[1, 1], [W, H]], float)).all()


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        pytest.param((40, 20, 60, 70), (50, 70), id="unclipped-bottom-centre"),
        pytest.param((0, 20, 12, 120), (12 - 20, 120 + 0), id="left-clipped-and-bottom"),
        pytest.param((0, 20, 12, 70), (12 - 10, 70), id="left-clipped-uses-aspect"),
        pytest.param((0, 20, 30, 70), (15, 70), id="left-touching-but-full-width"),
        pytest.param((W - 12, 20, W, 70), (W - 12 + 10, 70), id="right-clipped"),
        pytest.param((40, 80, 60, H), (50, 80 + 50), id="bottom-clipped-uses-width"),
        pytest.param((0, 0, W, H), (W / 2, W / 0.4), id="fills-frame"),
        pytest.param((40, 0, 60, 30), (50, 30), id="top-clipped-feet-visible"),
    ],
)
def test_ground_points(box, expected):
    got = ground_points(np.array([box], np.float32), (W, H), aspect=0.4)
    np.testing.assert_allclose(got[0], expected)


def test_ground_points_without_frame_size_is_the_plain_anchor():
    box = np.array([[0, 20, 12, 70]], np.float32)
    np.testing.assert_allclose(ground_points(box), [[6, 70]])
