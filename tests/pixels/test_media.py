"""The read-only video helpers bench uses: container facts, one frame by index, and an unreadable file refused."""

from __future__ import annotations

import pytest

from edgeanon.errors import SourceError
from edgeanon.pixels.media import opencv_version, read_frame, video_info
from edgeanon.resources import sample_clip

CLIP = sample_clip()


def test_video_info_states_the_bundled_clip():
    assert video_info(CLIP) == (10.0, 250)


def test_video_info_refuses_a_file_it_cannot_open(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00not a video\x00" * 64)
    with pytest.raises(SourceError, match="cannot open as a video"):
        video_info(junk)


def test_read_frame_decodes_one_frame_by_index():
    frame = read_frame(CLIP, 100)
    assert frame is not None and frame.shape == (576, 768, 3)
    frame.fill(0)
    assert read_frame(CLIP, 10_000) is None  # past the end


def test_opencv_version_is_the_build_in_use():
    assert opencv_version().count(".") >= 2
