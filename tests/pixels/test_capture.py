"""Camera readers over the real bundled clip: the frame-discard invariant, pacing, the newest-frame slot,
reconnects with back-off, and that credentials never reach the logs.

No OpenCV mocks: every reader decodes ``tests/data/vtest-0-249.avi`` (250 frames, 768x576, 10 fps) or a
broken file made from it in ``tmp_path``.
"""

from __future__ import annotations

import gc
import logging
import shutil
import statistics
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from pydantic import SecretStr

from edgeanon.config.cameras import Camera
from edgeanon.config.sources import DeviceSource, UrlSource
from edgeanon.pixels.capture import CameraReader
from edgeanon.pixels.frames import POOL_SIZE, Fate, FramePool
from tests.helpers.capture import (
    CLIP,
    CLIP_FPS,
    CLIP_FRAMES,
    FRAME_SHAPE,
    PROMPT_S,
    Consumer,
    attempt_times,
    file_camera,
    live_arrays,
    wait_until,
)

MakeReader = Callable[..., tuple[CameraReader, threading.Event]]


@pytest.fixture(autouse=True)
def thread_errors(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[BaseException]]:
    """Any exception escaping a thread (the reader's above all) fails the test."""
    errors: list[BaseException] = []

    def hook(args: threading.ExceptHookArgs) -> None:
        errors.append(args.exc_value if args.exc_value is not None else RuntimeError(str(args.exc_type)))

    monkeypatch.setattr(threading, "excepthook", hook)
    yield errors
    assert not errors, f"exception escaped a thread: {errors!r}"


@pytest.fixture
def make_reader() -> Iterator[MakeReader]:
    """Build and start readers; whatever a test leaves running is stopped at teardown."""
    readers: list[CameraReader] = []

    def make(cam: Camera, blocking: bool = False) -> tuple[CameraReader, threading.Event]:
        wake = threading.Event()
        reader = CameraReader(cam, wake.set, blocking=blocking)
        readers.append(reader)
        reader.start()
        return reader, wake

    yield make
    for r in readers:
        r.stop()
    for r in readers:
        r.join(5.0)


def stop_and_join(reader: CameraReader, limit: float = 2.0) -> float:
    """Stop a reader and return how long join took; fail if it did not end within ``limit``."""
    t0 = time.monotonic()
    reader.stop()
    ended = reader.join(limit)
    took = time.monotonic() - t0
    assert ended, f"reader still running {limit} s after stop()"
    return took


def run_blocking(make_reader: MakeReader, cam: Camera, **consumer_kw: object) -> tuple[CameraReader, Consumer]:
    """A whole file through a blocking reader with one consumer that takes and releases every frame."""
    reader, wake = make_reader(cam, blocking=True)
    consumer = Consumer(reader, wake, **consumer_kw).start()  # type: ignore[arg-type]
    assert consumer.join(20.0), "consumer did not finish"
    assert consumer.error is None, consumer.error
    assert reader.join(5.0), "reader did not end at end of file"
    return reader, consumer


def drain(pool: FramePool) -> list[np.ndarray]:
    """Every buffer the pool holds free right now (the pool is left empty)."""
    out = []
    while (b := pool.acquire(timeout=0)) is not None:
        out.append(b)
    return out


def frame_like(value: int, shape: tuple[int, ...] = FRAME_SHAPE) -> np.ndarray:
    return np.full(shape, value, np.uint8)


# ---------------------------------------------------------------- 1. FramePool


def test_acquire_before_any_frame_returns_none() -> None:
    pool = FramePool()
    t0 = time.monotonic()
    assert pool.acquire(timeout=10.0) is None
    # waiting would take the whole 10 s timeout; 5 s leaves room for a loaded 2-core machine
    assert time.monotonic() - t0 < 5.0, "acquire should not wait when no frame shape is known yet"


@pytest.mark.parametrize("fate", list(Fate))
def test_release_zeroes_in_place_and_counts_exactly_one_fate(fate: Fate) -> None:
    pool = FramePool()
    events: list[str] = []
    pool.on_count = events.append
    first = frame_like(200)
    pool.adopt(first, None)
    pool.captured()
    view = first[100:200, 50:60]  # a view sees the same memory: zeroing must be in place
    before = id(first)

    pool.release(first, fate)

    assert id(first) == before
    assert not first.any() and not view.any()
    c = pool.counters
    fates = {"inferred": c.inferred, "dropped": c.dropped, "skipped": c.skipped, "idle": c.idle}
    assert fates == {f.value: int(f is fate) for f in Fate}
    assert (c.captured, c.released) == (1, 1)
    assert c.balanced()
    assert events == [fate.value]  # the capture is counted with the fate, in the same bucket
    assert c.accounted() == {"captured": 1, **fates}
    # the released buffer is reusable: it comes back from acquire (and zeroed)
    free = drain(pool)
    assert any(b is first for b in free)
    assert all(not b.any() for b in free)


def test_pool_hands_out_zeroed_buffers_of_the_frame_shape_and_never_holds_more_than_its_size() -> None:
    pool = FramePool()
    first = frame_like(9)
    pool.adopt(first, None)
    spare = drain(pool)
    assert len(spare) == POOL_SIZE - 1  # the decoder's own array is the third
    assert all(b.shape == FRAME_SHAPE and b.dtype == np.uint8 and not b.any() for b in spare)
    assert len({id(b) for b in [first, *spare]}) == POOL_SIZE

    extra = [frame_like(1) for _ in range(POOL_SIZE + 2)]  # e.g. arrays OpenCV allocated when the pool ran dry
    for b in [first, *spare, *extra]:
        pool.captured()
        pool.release(b, Fate.INFERRED)
    held = drain(pool)
    assert len(held) == POOL_SIZE
    assert all(not b.any() for b in [first, *spare, *extra])  # everything released is zeroed, pooled or not
    assert pool.counters.balanced() and pool.counters.released == len(extra) + POOL_SIZE


def test_give_back_is_not_a_release() -> None:
    pool = FramePool()
    pool.adopt(frame_like(3), None)
    buf = pool.acquire(timeout=0)
    assert buf is not None
    buf[:] = 5  # a read that failed half-way
    pool.give_back(buf)
    assert not buf.any()
    assert pool.counters.released == 0 and pool.counters.captured == 0
    assert any(b is buf for b in drain(pool))


def test_old_shape_buffer_is_not_repooled_after_the_stream_changes_size() -> None:
    pool = FramePool()
    old = frame_like(7)
    pool.adopt(old, None)
    replaced = pool.acquire(timeout=0)  # the buffer the decoder was given when the size changed
    assert replaced is not None
    replaced[:] = 1
    small = (240, 320, 3)
    new = frame_like(8, small)
    pool.adopt(new, replaced)
    assert not replaced.any(), "the buffer the decoder did not use must be zeroed"

    pool.captured()
    pool.release(old, Fate.DROPPED)  # an old-size frame still in flight when the size changed
    assert not old.any()
    assert pool.counters.dropped == 1 and pool.counters.released == 1
    free = drain(pool)
    assert len(free) == POOL_SIZE - 1
    assert all(b.shape == small for b in free)
    assert not any(b is old or b is replaced for b in free)


def test_old_shape_buffers_are_freed_when_the_stream_changes_size() -> None:
    pool = FramePool()
    first = frame_like(5)
    pool.adopt(first, None)
    spare = drain(pool)
    refs = [weakref.ref(b) for b in [first, *spare]]
    pool.captured()
    pool.release(first, Fate.INFERRED)
    for b in spare:
        pool.give_back(b)
    del first, spare, b
    gc.collect()
    assert all(r() is not None for r in refs), "the pool should still own its buffers before the size changes"

    pool.adopt(frame_like(1, (240, 320, 3)), None)
    gc.collect()
    alive = [r() for r in refs if r() is not None]
    assert not alive, f"{len(alive)} old-size buffers survived the size change"


# ---------------------------------------------------------------- 2. blocking mode over the clip


def test_blocking_reader_delivers_every_frame_in_order_and_zeroes_each(make_reader: MakeReader) -> None:
    # fps 60 is above the file's 10 fps: a file that is not played in real time is paced on its own
    # timeline (frame index / native fps), so nothing is skipped however fast it decodes.
    # The consumer is slower than the decoder (2 ms a frame against under 1 ms), so a reader that did
    # not wait for it would drop frames.
    reader, consumer = run_blocking(make_reader, file_camera(fps=60), delay=0.002, keep_buffers=True, check_zero=True)

    assert consumer.seqs == list(range(1, CLIP_FRAMES + 1))
    c = reader.pool.counters
    assert (c.captured, c.inferred, c.dropped, c.skipped, c.released) == (CLIP_FRAMES, CLIP_FRAMES, 0, 0, CLIP_FRAMES)
    assert c.balanced()
    assert reader.status.finished and not reader.status.up
    assert reader.status.frame_size == (FRAME_SHAPE[1], FRAME_SHAPE[0])
    assert reader.generation == 1
    assert not any(x.nonzero_after_release for x in consumer.taken), "a buffer was not zeroed by release"
    assert 1 <= len(consumer.buffers) <= POOL_SIZE, f"{len(consumer.buffers)} distinct buffers handed out"
    assert all(b.shape == FRAME_SHAPE and not b.any() for b in consumer.buffers.values())
    # media time: exactly one native frame period apart; wall time only moves forward
    gaps = np.diff([x.t for x in consumer.taken])
    assert np.allclose(gaps, 1 / CLIP_FPS)
    assert all(np.diff([x.wall for x in consumer.taken]) >= 0)


def test_blocking_reader_below_the_file_rate_keeps_every_other_frame(make_reader: MakeReader) -> None:
    # fps 5 on a 10 fps file that is not played in real time: pacing is on the file's timeline, so
    # exactly every other frame is analysed, however fast the file decodes.
    reader, consumer = run_blocking(make_reader, file_camera(fps=5))
    c = reader.pool.counters
    assert consumer.seqs == list(range(1, CLIP_FRAMES // 2 + 1))
    assert (c.captured, c.inferred, c.skipped, c.dropped) == (CLIP_FRAMES, CLIP_FRAMES // 2, CLIP_FRAMES // 2, 0)
    assert c.balanced()
    assert np.allclose(np.diff([x.t for x in consumer.taken]), 0.2)


# ---------------------------------------------------------------- 3. latest-frame mode, slow consumer


def test_latest_frame_slot_drops_old_frames_for_a_slow_consumer(make_reader: MakeReader) -> None:
    reader, wake = make_reader(file_camera(fps=60), blocking=False)
    consumer = Consumer(reader, wake, delay=0.02).start()
    assert consumer.join(20.0) and consumer.error is None
    assert reader.join(5.0)

    c = reader.pool.counters
    seqs = consumer.seqs
    assert c.dropped > 0, "a consumer slower than decoding must make the slot drop frames"
    assert c.skipped == 0
    assert len(seqs) < CLIP_FRAMES
    assert all(np.diff(seqs) > 0), "frames must arrive newest-first, never older"
    # the consumer always got the newest frame: at most the one being put while it looked
    assert all(x.seq >= x.newest_possible - 1 for x in consumer.taken)
    assert seqs[-1] == CLIP_FRAMES, "the last frame of the file must not be dropped"
    # frames never queue up: one being decoded, one in the slot, one with the consumer
    assert consumer.max_outstanding <= POOL_SIZE
    assert c.captured == CLIP_FRAMES
    assert c.inferred == len(seqs)
    assert c.captured == c.inferred + c.dropped + c.skipped == c.released
    assert c.balanced()


def test_discard_pending_on_join_releases_the_waiting_frame(make_reader: MakeReader) -> None:
    reader, _ = make_reader(file_camera(fps=60), blocking=False)
    assert wait_until(lambda: reader.status.finished, 10.0)
    assert reader.peek_time() is not None, "the last frame should wait in the slot for a consumer"
    assert reader.join(5.0)
    c = reader.pool.counters
    assert reader.peek_time() is None
    assert c.captured == CLIP_FRAMES and c.dropped == CLIP_FRAMES and c.balanced()


# ---------------------------------------------------------------- 4. pacing in real time


def test_realtime_file_is_paced_to_the_camera_fps(make_reader: MakeReader) -> None:
    reader, wake = make_reader(file_camera(realtime=True, fps=5), blocking=False)
    consumer = Consumer(reader, wake).start()
    t0 = time.monotonic()
    time.sleep(3.0)
    took = stop_and_join(reader)
    elapsed = time.monotonic() - t0
    consumer.halt()
    assert consumer.join(2.0) and consumer.error is None

    c = reader.pool.counters
    assert c.balanced()
    assert c.captured <= elapsed * CLIP_FPS + 2, f"{c.captured} frames in {elapsed:.1f} s: not played in real time"
    assert c.captured >= 15
    assert 0.35 <= c.skipped / c.captured <= 0.65, c
    assert len(consumer.taken) >= 8
    t_gaps = np.diff([x.t for x in consumer.taken])
    wall_gaps = np.diff([x.wall for x in consumer.taken])
    assert statistics.fmean(t_gaps) == pytest.approx(0.2, abs=0.03)
    assert statistics.fmean(wall_gaps) == pytest.approx(0.2, abs=0.06)
    assert 4.0 <= reader.status.fps <= 6.0
    assert took < PROMPT_S


# ---------------------------------------------------------------- 5. no reference survives


def test_no_frame_array_survives_a_run_outside_the_pool(make_reader: MakeReader) -> None:
    before = live_arrays(FRAME_SHAPE)  # other tests may hold frames of this size: not ours to judge
    reader, consumer = run_blocking(make_reader, file_camera(fps=60))
    assert len(consumer.taken) == CLIP_FRAMES
    del consumer

    owned = drain(reader.pool)
    assert 1 <= len(owned) <= POOL_SIZE
    owned_ids = {id(b) for b in owned}
    for b in owned:
        reader.pool.give_back(b)  # back in the pool, where the scan must find them
    del owned, b
    found = {i: a for i, a in live_arrays(FRAME_SHAPE).items() if i not in before}
    strays = [a for i, a in found.items() if i not in owned_ids]
    assert not strays, f"{len(strays)} frame-sized arrays outlived the run outside the pool"
    assert owned_ids <= set(found), "the scan must see the pool's own buffers"
    assert all(not a.any() for a in found.values()), "a live frame-sized array still holds pixels"
    # buffer identity: nothing but the pool's one free list refers to a pool buffer (no "last frame" kept
    # by the reader, no Frame object left in the slot)
    holders = {i: [r for r in gc.get_referrers(found[i]) if r is not found] for i in owned_ids}
    assert all(len(h) == 1 for h in holders.values()), {i: [type(r).__name__ for r in h] for i, h in holders.items()}
    free_lists = {id(h[0]) for h in holders.values()}
    assert len(free_lists) == 1


class _Stash:
    """Somewhere a careless consumer might keep pixels."""

    hidden: dict[str, tuple[np.ndarray, ...]]
    view: np.ndarray


def test_leak_scanner_finds_hidden_frames() -> None:
    """The scan above must be able to fail: pixels kept in untracked containers, or only through a view, are found.

    (It starts from GC-tracked objects, so the locals of a function that is still running are out of its
    sight; after a run, the reader's and the consumer's functions have returned.)
    """
    frame = _first_frame()
    stash = _Stash()
    stash.hidden = {"k": (frame.copy(),)}  # a dict of a tuple of an array: CPython may untrack both
    stash.view = frame[10:20]  # only a view is kept; its base is the decoded frame
    fid, cid = id(frame), id(stash.hidden["k"][0])
    del frame
    found = live_arrays(FRAME_SHAPE)
    assert fid in found and cid in found
    assert found[fid].any() and found[cid].any()
    del stash, found
    assert fid not in live_arrays(FRAME_SHAPE)


def _first_frame() -> np.ndarray:
    import cv2

    cap = cv2.VideoCapture(str(CLIP), cv2.CAP_FFMPEG)
    try:
        ok, frame = cap.read()
    finally:
        cap.release()
    assert ok and frame.shape == FRAME_SHAPE
    return frame


# ---------------------------------------------------------------- 6. failures


def test_missing_file_backs_off_exponentially_up_to_the_cap_then_recovers(
    make_reader: MakeReader, tmp_path: Path
) -> None:
    path = tmp_path / "later.avi"
    reader, _ = make_reader(file_camera(path, reconnect_max_s=0.5), blocking=False)
    times = attempt_times(reader, 2.6)
    st = reader.status
    assert not st.up and not st.finished
    assert "no such file" in st.last_error and str(path) in st.last_error
    # attempts at about 0, 0.25, 0.75, 1.25, 1.75, 2.25 s: back-off 0.25 s, doubling, capped at 0.5 s
    assert 3 <= len(times) <= 7, f"{len(times)} attempts in 2.6 s"
    gaps = np.diff(times)
    # a loaded machine can only make a gap longer, never shorter, so the lower bounds are exact; the upper
    # bound is on the median: one late attempt cannot fail it, while an uncapped doubling (0.5, 1, 2 s) does
    assert gaps[0] >= 0.2, gaps
    assert all(g >= 0.4 for g in gaps[1:]), f"back-off shorter than the cap: {gaps}"
    assert np.median(gaps[1:]) <= 0.5 + 0.25, f"back-off above reconnect_max_s: {gaps}"

    shutil.copyfile(CLIP, path)  # the file appears: the reader keeps retrying, so it picks it up
    assert wait_until(lambda: reader.status.finished, 5.0), reader.status
    assert reader.join(5.0)
    assert reader.status.last_error == ""
    assert reader.generation == 1
    assert reader.pool.counters.captured == CLIP_FRAMES and reader.pool.counters.balanced()


def test_back_off_never_exceeds_a_cap_below_the_first_step(make_reader: MakeReader, tmp_path: Path) -> None:
    reader, _ = make_reader(file_camera(tmp_path / "missing.avi", reconnect_max_s=0.05), blocking=False)
    # uncapped, attempts would come at 0, 0.25 and 0.75 s: 3 in 1.5 s; capped at 50 ms there are about 25, so
    # 5 leaves a wide margin for a loaded machine where each open takes longer
    times = attempt_times(reader, 1.5)
    assert len(times) >= 5, f"{len(times)} attempts in 1.5 s with a 50 ms cap"
    gaps = np.diff(times)
    # uncapped, the gaps would be 0.25 s and more; the median of a 50 ms cap stays far below that even when a
    # loaded machine delays a few attempts
    assert np.median(gaps) < 0.15, f"waited longer than the 50 ms cap: {gaps}"
    assert stop_and_join(reader) < PROMPT_S


def test_stop_is_prompt_while_backing_off(make_reader: MakeReader, tmp_path: Path) -> None:
    reader, _ = make_reader(file_camera(tmp_path / "missing.avi", reconnect_max_s=60), blocking=False)
    # after 5 failures (0, 0.25, 0.75, 1.75, 3.75 s) the reader sleeps 4 s before the next attempt: a stop
    # that waited for the back-off would take over 3.5 s, so the bound of 2 s has room for a loaded machine
    assert wait_until(lambda: reader.status.reconnects >= 5, 10.0), reader.status
    time.sleep(0.1)
    assert stop_and_join(reader) < PROMPT_S
    assert not reader.status.up


def test_corrupt_file_is_reported_down_without_an_exception(
    make_reader: MakeReader, tmp_path: Path, thread_errors: list[BaseException]
) -> None:
    path = tmp_path / "corrupt.avi"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 200_000, dtype=np.uint8).tobytes())
    reader, _ = make_reader(file_camera(path, reconnect_max_s=0.5), blocking=False)
    assert wait_until(lambda: reader.status.reconnects >= 2, 5.0), reader.status
    st = reader.status
    assert not st.up and not st.finished
    assert "cannot open" in st.last_error or "no decodable frames" in st.last_error, st.last_error
    assert not reader.join(0), "the reader should keep retrying, not die"
    assert stop_and_join(reader) < PROMPT_S
    assert reader.pool.counters.captured == 0 and reader.pool.counters.balanced()
    assert not thread_errors


def test_file_with_header_but_no_frames_is_reported_undecodable(make_reader: MakeReader, tmp_path: Path) -> None:
    data = CLIP.read_bytes()
    path = tmp_path / "header-only.avi"
    path.write_bytes(data[: data.index(b"movi") + 4])  # headers and an empty frame list
    reader, _ = make_reader(file_camera(path, reconnect_max_s=0.5), blocking=False)
    assert wait_until(lambda: reader.status.last_error != "", 5.0)
    st = reader.status
    assert not st.up and not st.finished
    assert "no decodable frames" in st.last_error or "cannot open" in st.last_error, st.last_error
    assert stop_and_join(reader) < PROMPT_S
    assert reader.pool.counters.captured == 0


def test_truncated_file_reads_what_it_can_then_ends(
    make_reader: MakeReader, tmp_path: Path, thread_errors: list[BaseException]
) -> None:
    path = tmp_path / "truncated.avi"
    path.write_bytes(CLIP.read_bytes()[:300_000])
    reader, wake = make_reader(file_camera(path), blocking=True)
    consumer = Consumer(reader, wake).start()
    assert wait_until(lambda: reader.status.finished or reader.status.last_error, 10.0), reader.status
    assert consumer.join(5.0) and consumer.error is None
    assert stop_and_join(reader) < PROMPT_S
    c = reader.pool.counters
    assert 0 < c.captured < CLIP_FRAMES
    assert consumer.seqs == list(range(1, c.captured + 1))
    assert c.balanced()
    assert not thread_errors


# ---------------------------------------------------------------- 7. loop mode


def test_loop_mode_reopens_and_bumps_the_generation(make_reader: MakeReader) -> None:
    reader, wake = make_reader(file_camera(loop=True, fps=60), blocking=True)
    consumer = Consumer(reader, wake, stop_after_seq=2 * CLIP_FRAMES + 20).start()
    assert consumer.join(20.0) and consumer.error is None
    assert stop_and_join(reader) < PROMPT_S

    taken = consumer.taken
    assert [x.seq for x in taken] == list(range(1, 2 * CLIP_FRAMES + 21)), "seq continues across reopens"
    # the generation is read when a frame is taken; the reader may already have reopened for the
    # next pass while the last frame of a pass waits, so only the frames before it are exact
    assert {x.generation for x in taken if x.seq < CLIP_FRAMES} == {1}
    assert {x.generation for x in taken if CLIP_FRAMES < x.seq < 2 * CLIP_FRAMES} == {2}
    assert {x.generation for x in taken if x.seq > 2 * CLIP_FRAMES} == {3}
    assert reader.generation == 3
    assert all(np.diff([x.t for x in taken]) > 0), "frame time must keep increasing across a loop"
    assert not reader.status.finished
    c = reader.pool.counters
    assert c.balanced() and c.dropped <= 2  # stop may drop the frame in the slot and the one being put


# ---------------------------------------------------------------- 8. device that does not exist


def test_missing_device_is_reported_down(make_reader: MakeReader, thread_errors: list[BaseException]) -> None:
    if Path("/dev/video63").exists():
        pytest.skip("/dev/video63 exists on this machine")
    cam = Camera(id="cam", source=DeviceSource(kind="device", index=63), reconnect_max_s=0.5)
    reader, _ = make_reader(cam)
    assert wait_until(lambda: reader.status.reconnects >= 2, 5.0), reader.status
    st = reader.status
    assert not st.up and not st.finished
    assert st.last_error == "cannot open device 63"
    assert stop_and_join(reader) < PROMPT_S
    assert reader.pool.counters.captured == 0
    assert not thread_errors


# ---------------------------------------------------------------- 9. credentials never logged


@pytest.mark.parametrize("scheme", ["rtsp", "http"])
def test_credentials_never_appear_in_logs(
    make_reader: MakeReader, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str], scheme: str
) -> None:
    password = "Pw-7f3!k@9/x:SECRET"  # special characters: the URL-quoted form must not leak either
    user = "camuser"
    cam = Camera(
        id="cam",
        source=UrlSource(kind="url", url=f"{scheme}://127.0.0.1:9/x", username=user, password=SecretStr(password)),
        open_timeout_s=1,
        read_timeout_s=1,
        reconnect_max_s=0.5,
    )
    caplog.set_level(logging.DEBUG, logger="edgeanon.capture")
    reader, _ = make_reader(cam)
    assert wait_until(lambda: reader.status.reconnects >= 3, 8.0), reader.status
    assert stop_and_join(reader) < PROMPT_S
    st = reader.status
    assert not st.up and st.last_error == f"cannot open url {scheme}://127.0.0.1:9/x"

    native = capfd.readouterr()
    records = [r for r in caplog.records if r.name.startswith("edgeanon")]
    assert any("127.0.0.1:9" in r.getMessage() for r in records), "expected a 'down' log line about the camera"
    texts = [caplog.text, *(r.getMessage() for r in records), native.out, native.err, st.last_error]
    for secret in (password, quote(password, safe=""), "SECRET", f"{user}:"):
        for text in texts:
            assert secret not in text
