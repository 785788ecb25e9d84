"""Polygons and ground points in frame pixels (x right, y down), vectorised over many points.

A polygon is rasterised once, at construction, into a boolean mask over its bounding box (even-odd rule
evaluated at pixel centres, in numpy: analytics never import cv2; about 0.5 ms for a 6-vertex zone on a
768x576 frame). A per-frame test is then a table lookup: measured 6 us for 20 anchors against 37 us for an
exact vectorised crossing-number test of a 6-vertex polygon, and its cost does not grow with the vertex count.
The exact test is kept as the reference the raster is checked against at every pixel centre.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
BOOL = npt.NDArray[np.bool_]
FrameSize = tuple[int, int]
Visible = tuple[int, int, int, int]  # x0, y0, x1, y1: the part of the frame the detector sees
"""(width, height) in pixels."""

_ZERO = np.intp(0)


def to_pixels(points: npt.ArrayLike, frame_size: FrameSize) -> F64:
    """Normalised (x, y) in [0, 1] -> frame pixels, so configs stay valid when the resolution changes."""
    p = np.asarray(points, np.float64).reshape(-1, 2)
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError("normalised coordinates must lie in [0, 1]")
    w, h = _check_size(frame_size)
    return p * np.array([w, h], np.float64)


def _check_size(frame_size: FrameSize) -> FrameSize:
    w, h = int(frame_size[0]), int(frame_size[1])
    if w <= 0 or h <= 0:
        raise ValueError(f"frame size must be positive, got {frame_size}")
    return w, h


def _vertices(vertices: npt.ArrayLike) -> F64:
    v = np.asarray(vertices, np.float64)
    if v.ndim != 2 or v.shape[1] != 2 or v.shape[0] < 3:
        raise ValueError(f"a polygon needs at least 3 (x, y) vertices, got shape {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError("polygon vertices must be finite")
    return v


def contains_exact(vertices: npt.ArrayLike, points: npt.ArrayLike) -> BOOL:
    """Even-odd crossing-number test of every point against every edge at once (n x k arrays).

    Half-open rule: an edge spans a point's row if exactly one end lies strictly below it, and a crossing
    counts if it lies strictly right of the point, so shared vertices and horizontal edges count once.
    """
    v = _vertices(vertices)
    p = np.asarray(points, np.float64).reshape(-1, 2)
    px, py = p[:, :1], p[:, 1:]
    xi, yi = v[:, 0], v[:, 1]
    xj, yj = np.roll(xi, -1), np.roll(yi, -1)
    spans = (yi > py) != (yj > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        xc = (xj - xi) * (py - yi) / (yj - yi) + xi
    return np.count_nonzero(spans & (px < xc), axis=1) % 2 == 1


def _rasterise(v: F64, w: int, h: int) -> tuple[int, int, BOOL]:
    """(col0, row0, mask) for the pixels whose centres lie inside ``v``, over its bounding box in the frame.

    Scanline form of :func:`contains_exact`: per row, each edge crossing toggles the parity of every pixel
    left of it; the toggles are accumulated with one cumulative sum. Cost O(rows x (cols + edges)).
    """
    c0 = max(0, int(np.floor(v[:, 0].min())))
    c1 = min(w - 1, int(np.ceil(v[:, 0].max())))
    r0 = max(0, int(np.floor(v[:, 1].min())))
    r1 = min(h - 1, int(np.ceil(v[:, 1].max())))
    if c1 < c0 or r1 < r0:
        return 0, 0, np.zeros((0, 0), bool)
    centres_x = np.arange(c0, c1 + 1, dtype=np.float64) + 0.5
    yc = (np.arange(r0, r1 + 1, dtype=np.float64) + 0.5)[:, None]
    xi, yi = v[:, 0], v[:, 1]
    xj, yj = np.roll(xi, -1), np.roll(yi, -1)
    spans = (yi > yc) != (yj > yc)
    with np.errstate(divide="ignore", invalid="ignore"):
        xc = (xj - xi) * (yc - yi) / (yj - yi) + xi
    rows, edges = np.nonzero(spans)
    # number of pixel centres strictly left of each crossing: those pixels have this crossing on their right
    k = np.searchsorted(centres_x, xc[rows, edges], side="left")
    toggles = np.zeros((r1 - r0 + 1, c1 - c0 + 2), np.uint8)
    np.add.at(toggles, (rows, k), 1)
    # crossings right of pixel j = those with k > j; parity = total - (those with k <= j), mod 2
    total = toggles.sum(axis=1, dtype=np.uint8)[:, None]
    left = np.cumsum(toggles[:, :-1], axis=1, dtype=np.uint8)
    return c0, r0, ((total - left) & 1).astype(bool)


class _Raster:
    """A boolean mask over part of the frame plus lookup tables from frame pixels into it.

    The mask has one extra False row and column, and every frame pixel outside the bounding box maps to
    them: a lookup is two clips, two table reads and one gather, with no branches.
    """

    __slots__ = ("_col", "_flat", "_max_x", "_max_y", "_row", "frame_size")

    def __init__(self, frame_size: FrameSize, parts: Sequence[F64]) -> None:
        w, h = _check_size(frame_size)
        self.frame_size = (w, h)
        self._max_x, self._max_y = np.intp(w - 1), np.intp(h - 1)
        rasters = [_rasterise(v, w, h) for v in parts]
        rasters = [r for r in rasters if r[2].size]
        if rasters:
            c0 = min(r[0] for r in rasters)
            r0 = min(r[1] for r in rasters)
            c1 = max(r[0] + r[2].shape[1] for r in rasters)
            r1 = max(r[1] + r[2].shape[0] for r in rasters)
        else:
            c0 = r0 = c1 = r1 = 0
        mask = np.zeros((r1 - r0 + 1, c1 - c0 + 1), bool)  # last row and column: the False pad
        for pc, pr, m in rasters:
            mask[pr - r0 : pr - r0 + m.shape[0], pc - c0 : pc - c0 + m.shape[1]] |= m
        pad_c, pad_r = mask.shape[1] - 1, mask.shape[0] - 1
        col = np.arange(w) - c0
        row = np.arange(h) - r0
        col = np.where((col >= 0) & (col < pad_c), col, pad_c)
        row = np.where((row >= 0) & (row < pad_r), row, pad_r)
        self._col = col.astype(np.intp)
        self._row = (row * mask.shape[1]).astype(np.intp)
        self._flat = mask.ravel()

    def lookup(self, x: npt.NDArray[np.floating], y: npt.NDArray[np.floating]) -> BOOL:
        """Inside test for points (x[i], y[i]). Points are clamped to the frame first, so an anchor on the far
        frame edge (a box clipped at the border has y2 == height) reads the last pixel, and a region drawn up
        to the frame edge also holds anchors just beyond it."""
        xi, yi = x.astype(np.intp), y.astype(np.intp)  # truncation == floor for x >= 0; x < 0 is clamped next
        np.maximum(np.minimum(xi, self._max_x, out=xi), _ZERO, out=xi)  # np.clip costs 3x more on small arrays
        np.maximum(np.minimum(yi, self._max_y, out=yi), _ZERO, out=yi)
        return self._flat[self._row[yi] + self._col[xi]]


class Polygon:
    """A zone polygon in frame pixels; ``contains`` decides at pixel-centre resolution (within 0.71 px)."""

    __slots__ = ("_raster", "vertices")

    def __init__(self, vertices: npt.ArrayLike, frame_size: FrameSize) -> None:
        self.vertices = _vertices(vertices)
        self._raster = _Raster(frame_size, [self.vertices])

    @classmethod
    def from_normalized(cls, points: npt.ArrayLike, frame_size: FrameSize) -> Polygon:
        return cls(to_pixels(points, frame_size), frame_size)

    @property
    def frame_size(self) -> FrameSize:
        return self._raster.frame_size

    def contains(self, points: npt.ArrayLike) -> BOOL:
        """Inside mask for (n, 2) points in frame pixels (raster lookup; see :class:`_Raster`)."""
        p = np.asarray(points).reshape(-1, 2)
        return self._raster.lookup(p[:, 0], p[:, 1])

    def contains_xy(self, x: npt.NDArray[np.floating], y: npt.NDArray[np.floating]) -> BOOL:
        """:meth:`contains` for coordinates given as two arrays, the hot-path form."""
        return self._raster.lookup(x, y)

    def contains_exact(self, points: npt.ArrayLike) -> BOOL:
        return contains_exact(self.vertices, points)


class ExclusionMask:
    """The union of exclude polygons (posters, mannequins, staff-only areas), rasterised into one mask.

    ``keep(points)`` is True for points inside none of them: one lookup however many polygons there are.
    """

    __slots__ = ("_raster",)

    def __init__(self, polygons: Sequence[npt.ArrayLike], frame_size: FrameSize) -> None:
        self._raster = _Raster(frame_size, [_vertices(p) for p in polygons])

    def keep(self, points: npt.ArrayLike) -> BOOL:
        p = np.asarray(points).reshape(-1, 2)
        return ~self._raster.lookup(p[:, 0], p[:, 1])


def ground_xy(
    xyxy: npt.NDArray[np.floating],
    frame_size: FrameSize | Visible | None = None,
    *,
    aspect: float = 0.4,
    edge_px: float = 1.0,
) -> tuple[F64, F64]:
    """Where each person stands: the bottom-centre of the box, corrected for boxes clipped by the frame.

    Detectors clip boxes to the frame, which drags a partly visible person's bottom-centre inwards: someone
    half out of the left edge has an anchor at half their *visible* width, so a line near the edge would never
    see them on its far side. For a box touching the left or right border (within ``edge_px``) the full width
    is estimated as ``max(visible width, aspect x height)`` and the centre is placed that far from the visible
    inner edge; for a box touching the bottom border the full height is estimated as
    ``max(visible height, width / aspect)`` from the top edge. The estimate is continuous with the plain anchor
    whenever the person is in fact fully visible, so a box that flickers between clipped and unclipped does
    not jump. A box touching the top border needs no correction: the feet are visible. Without ``frame_size``
    this is the plain bottom-centre. ``frame_size`` may also be the visible rectangle (x0, y0, x1, y1) when the
    detector sees only a region of the frame: its borders clip boxes just as the frame's do.
    """
    b = np.asarray(xyxy, np.float64)
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    x = (x1 + x2) * 0.5
    if frame_size is None:
        return x, y2
    x0, _, w, h = (0, 0, *frame_size) if len(frame_size) == 2 else frame_size  # the top border needs nothing
    left, right, bottom = x1 <= x0 + edge_px, x2 >= w - edge_px, y2 >= h - edge_px
    if not np.count_nonzero(left | right | bottom):  # the usual case: nothing touches the border
        return x, y2
    bw, bh = x2 - x1, y2 - y1
    half = np.maximum(bw, aspect * bh) * 0.5
    x = np.where(left & ~right, x2 - half, np.where(right & ~left, x1 + half, x))  # spanning both: keep middle
    y = np.where(bottom, y1 + np.maximum(bh, bw / aspect), y2)
    return x, y


def ground_points(
    xyxy: npt.ArrayLike, frame_size: FrameSize | Visible | None = None, *, aspect: float = 0.4, edge_px: float = 1.0
) -> F64:
    """:func:`ground_xy` as an (n, 2) array."""
    x, y = ground_xy(np.asarray(xyxy, np.float64).reshape(-1, 4), frame_size, aspect=aspect, edge_px=edge_px)
    return np.stack([x, y], axis=1)
