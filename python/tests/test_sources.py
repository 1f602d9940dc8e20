"""Pushing into a pipeline from Python: numpy images into an AppSource (in order, pixels equal, no
copy unless asked, never written by vstream), H.264 bytes into a DataSource, errors, blocking and
stopping, and threads pushing at once."""

import gc
import json
import subprocess
import threading
import weakref

import numpy as np
import pytest

import vstream


def app_config(stages, **params):
    """AppSource "src" (custom_params `params`), then `stages` in a chain: (name, class, extra module
    settings); a class with a dot is a PyModule class."""
    config = {"src": {"class_name": "AppSource", "next_modules": [stages[0][0]] if stages else [],
                      "custom_params": params}}
    for i, (name, cls, extra) in enumerate(stages):
        module = {"class_name": cls, "next_modules": [stages[i + 1][0]] if i + 1 < len(stages) else []}
        if "." in cls:
            module = dict(module, class_name="PyModule", custom_params={"pyclass_name": cls})
        module.update(extra)
        config[name] = module
    return json.dumps(config)


def started(config):
    pipeline = vstream.Pipeline("push")
    pipeline.build_from_string(config)
    pipeline.start()
    return pipeline


def finish(pipeline):
    assert pipeline.wait(timeout=60)
    pipeline.stop()


class Keeper:
    """Keeps a copy of every frame's pixels, with its index, pts, format and array address."""

    def open(self, params):
        self.frames = {}
        self.lock = threading.Lock()

    def process(self, frame):
        image = frame.image if frame.pixel_format != "nv12" else None
        entry = dict(index=frame.frame_index, pts=frame.pts, pixel_format=frame.pixel_format,
                     width=frame.width, height=frame.height,
                     pixels=image.copy() if image is not None else [p.copy() for p in frame.planes],
                     address=image.__array_interface__["data"][0] if image is not None else None,
                     writeable=image.flags.writeable if image is not None else None)
        with self.lock:
            self.frames.setdefault(frame.stream_id, []).append(entry)


class Stamper:
    """Writes 255 over every frame's pixels (it says it writes pixels, so it gets a copy of its own)."""

    writes_pixels = True

    def process(self, frame):
        frame.image[...] = 255


class Blocker:
    """Holds the first frame until the test lets it go (class attributes: the test reaches them)."""

    entered = threading.Event()
    release = threading.Event()

    def process(self, frame):
        Blocker.entered.set()
        Blocker.release.wait()


def kept(pipeline, name="keep"):
    return pipeline.module(name)["instance"].frames


def test_pushed_frames_arrive_in_order_with_the_pushed_pixels():
    pipeline = started(app_config([("keep", "test_sources.Keeper", {})], streams=["a", "b"], frame_rate=25))
    rng = np.random.default_rng(7)
    pushed = {"a": [], "b": []}
    for i in range(5):
        for stream in ("a", "b"):
            image = rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
            pipeline.push(stream, image)
            pushed[stream].append(image)
    pipeline.end_stream("a")
    pipeline.end_stream("b")
    finish(pipeline)
    frames = kept(pipeline)
    for stream in ("a", "b"):
        assert [f["index"] for f in frames[stream]] == [0, 1, 2, 3, 4]
        assert [f["pts"] for f in frames[stream]] == [0, 40000, 80000, 120000, 160000]  # microseconds at 25 fps
        for got, image in zip(frames[stream], pushed[stream]):
            assert got["pixel_format"] == "bgr24" and (got["width"], got["height"]) == (16, 12)
            assert np.array_equal(got["pixels"], image)


def test_formats_pts_and_row_strides():
    pipeline = started(app_config([("keep", "test_sources.Keeper", {})], streams=["s"]))
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, size=(6, 10, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, size=(5, 9), dtype=np.uint8)
    nv12 = rng.integers(0, 256, size=(9, 8), dtype=np.uint8)  # 8x6: Y 6 rows, then UV 3 rows
    big = rng.integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    crop = big[4:12, 5:15]  # rows 90 bytes apart, pixels contiguous: taken as it is
    pipeline.push("s", rgb, pts=1000, pixel_format="rgb24")
    pipeline.push("s", gray, pts=2000)
    pipeline.push("s", nv12, 3000, pixel_format="nv12")
    pipeline.push("s", crop)  # pts derived: 3000 + 40000
    pipeline.end_stream("s")
    finish(pipeline)
    frames = kept(pipeline)["s"]
    assert [f["pixel_format"] for f in frames] == ["rgb24", "gray8", "nv12", "bgr24"]
    assert [f["pts"] for f in frames] == [1000, 2000, 3000, 43000]
    assert np.array_equal(frames[0]["pixels"], rgb)
    assert np.array_equal(frames[1]["pixels"], gray)
    assert (frames[2]["width"], frames[2]["height"]) == (8, 6)
    assert np.array_equal(frames[2]["pixels"][0], nv12[:6]) and np.array_equal(frames[2]["pixels"][1], nv12[6:])
    assert np.array_equal(frames[3]["pixels"], crop)
    assert frames[3]["address"] == crop.__array_interface__["data"][0]


def test_the_frame_uses_the_array_without_a_copy_and_lets_it_go_after():
    pipeline = started(app_config([("keep", "test_sources.Keeper", {})], streams=["z"]))
    image = np.full((8, 12, 3), 77, dtype=np.uint8)
    address = image.__array_interface__["data"][0]
    alive = weakref.ref(image)
    pipeline.push("z", image)
    del image  # the frame's reference keeps the array alive while the pipeline has it
    pipeline.end_stream("z")
    finish(pipeline)
    got = kept(pipeline)["z"][0]
    assert got["address"] == address  # the stage saw the pushed array's own memory
    assert got["writeable"] is False  # read-only to the pipeline
    gc.collect()
    assert alive() is None  # released once the last frame was gone


def test_copy_true_copies():
    pipeline = started(app_config([("keep", "test_sources.Keeper", {})], streams=["c"]))
    image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    pipeline.push("c", image, copy=True)
    pipeline.end_stream("c")
    finish(pipeline)
    got = kept(pipeline)["c"][0]
    assert got["address"] != image.__array_interface__["data"][0]
    assert np.array_equal(got["pixels"], image)


def test_a_stage_that_writes_pixels_does_not_change_the_callers_array():
    pipeline = started(app_config([("stamp", "test_sources.Stamper", {}), ("keep", "test_sources.Keeper", {})],
                                  streams=["w"]))
    image = np.full((6, 8, 3), 9, dtype=np.uint8)
    pipeline.push("w", image)
    pipeline.end_stream("w")
    finish(pipeline)
    got = kept(pipeline)["w"][0]
    assert (got["pixels"] == 255).all()  # the next stage sees what the writer wrote
    assert got["address"] != image.__array_interface__["data"][0]
    assert (image == 9).all() and image.flags.writeable  # the caller's array, flags included, as it was


def test_streams_added_while_running():
    pipeline = started(app_config([("keep", "test_sources.Keeper", {})]))
    pipeline.add_source("cam9", "app://")
    pipeline.push("cam9", np.zeros((2, 2), dtype=np.uint8))
    pipeline.remove_source("cam9")  # ends it like end_stream
    finish(pipeline)
    assert [f["index"] for f in kept(pipeline)["cam9"]] == [0]


def h264_file(tmp_path, frames=25):
    path = tmp_path / "clip.h264"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size=64x48:rate=25:d={frames / 25}",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "h264", str(path)], check=True)
    return path.read_bytes()


def test_h264_bytes_pushed_in_chunks_decode_to_every_frame(tmp_path):
    data = h264_file(tmp_path)
    config = json.dumps({"src": {"class_name": "DataSource", "next_modules": ["keep"]},
                         "keep": {"class_name": "PyModule", "custom_params": {"pyclass_name": "test_sources.Keeper"}}})
    pipeline = started(config)
    pipeline.add_source("v", "mem://h264")
    # Chunks of odd sizes, as bytes, bytearray and memoryview.
    kinds = (bytes, bytearray, memoryview)
    for n, start in enumerate(range(0, len(data), 777)):
        pipeline.push_bytes("v", kinds[n % 3](data[start:start + 777]))
    pipeline.end_bytes("v")
    finish(pipeline)
    frames = kept(pipeline)["v"]
    assert [f["index"] for f in frames] == list(range(25))
    assert (frames[0]["width"], frames[0]["height"]) == (64, 48)


def test_bad_calls_raise_errors_that_name_the_problem():
    pipeline = vstream.Pipeline("errors")
    pipeline.build_from_string(app_config([("pass", "PassThrough", {})], streams=["e"], pixel_format="any"))
    image = np.zeros((4, 4, 3), dtype=np.uint8)
    with pytest.raises(vstream.StateError, match="is not running"):
        pipeline.push("e", image)
    pipeline.start()
    with pytest.raises(TypeError, match="image must be a numpy array of uint8, not list"):
        pipeline.push("e", [[0, 0, 0]])
    with pytest.raises(TypeError, match="not of float32"):
        pipeline.push("e", np.zeros((4, 4, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"a bgr24 image is an array of shape \(height, width, 3\), not \(4, 4, 4\)"):
        pipeline.push("e", np.zeros((4, 4, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"a rgb24 image is an array of shape \(height, width, 3\), not \(4, 4\)"):
        pipeline.push("e", np.zeros((4, 4), dtype=np.uint8), pixel_format="rgb24")
    with pytest.raises(ValueError, match="pixel_format must be 'bgr24', 'rgb24', 'gray8' or 'nv12', not 'yuv'"):
        pipeline.push("e", image, pixel_format="yuv")
    with pytest.raises(ValueError, match="rows must be contiguous pixels"):
        pipeline.push("e", np.zeros((4, 8, 3), dtype=np.uint8)[:, ::2])
    with pytest.raises(ValueError, match="rows must be contiguous pixels"):
        pipeline.push("e", np.zeros((4, 4, 3), dtype=np.uint8)[::-1])
    with pytest.raises(ValueError, match="a multiple of 3"):
        pipeline.push("e", np.zeros((4, 4), dtype=np.uint8), pixel_format="nv12")
    with pytest.raises(ValueError, match=r"the image is empty: its shape is \(4, 0, 3\)"):
        pipeline.push("e", np.zeros((4, 0, 3), dtype=np.uint8))
    with pytest.raises(vstream.ArgumentError, match="the image is 40000x1; width and height must be 1 to 32768"):
        pipeline.push("e", np.zeros((1, 40000), dtype=np.uint8))
    with pytest.raises(vstream.NotFoundError, match="no stream 'nope'"):
        pipeline.push("nope", image)
    with pytest.raises(vstream.ArgumentError, match="pts 5 is not after the previous frame's pts 10"):
        pipeline.push("e", image, pts=10)
        pipeline.push("e", image, pts=5)
    with pytest.raises(vstream.NotFoundError, match="push: pipeline 'errors' has no module 'other'"):
        pipeline.push("e", image, module="other")
    with pytest.raises(vstream.ArgumentError, match="push: module 'pass' is a PassThrough, not an AppSource"):
        pipeline.push("e", image, module="pass")
    with pytest.raises(vstream.NotFoundError, match="has no DataSource module"):
        pipeline.push_bytes("e", b"\x00\x00\x00\x01")
    pipeline.end_stream("e")
    with pytest.raises(vstream.StateError, match="stream 'e' has ended"):
        pipeline.push("e", image)
    with pytest.raises(vstream.StateError, match="stream 'e' has already ended"):
        pipeline.end_stream("e")
    finish(pipeline)


def test_a_pipeline_with_several_sources_needs_the_module_named():
    config = json.dumps({"one": {"class_name": "AppSource", "next_modules": ["sink"],
                                 "custom_params": {"streams": ["x"]}},
                         "two": {"class_name": "AppSource", "next_modules": ["sink"],
                                 "custom_params": {"streams": ["y"]}},
                         "bytes": {"class_name": "DataSource", "next_modules": ["sink"]},
                         "sink": {"class_name": "PassThrough"}})
    pipeline = started(config)
    image = np.zeros((2, 2), dtype=np.uint8)
    with pytest.raises(vstream.ArgumentError,
                       match=r"has 2 AppSource modules \(one, two\); name one with module=\"one\""):
        pipeline.push("x", image)
    pipeline.push("x", image, module="one")
    pipeline.push("y", image, module="two")
    pipeline.end_stream("x", module="one")
    pipeline.end_stream("y", module="two")
    pipeline.add_source("file", "/no/such/file.mp4", source_module="bytes")
    with pytest.raises(TypeError, match="data must be a bytes-like object .* not str"):
        pipeline.push_bytes("file", "text")
    with pytest.raises(vstream.Error):  # not a memory input (or, having failed to open, no longer there)
        pipeline.push_bytes("file", b"\x00\x00\x00\x01")
    finish(pipeline)


@pytest.mark.parametrize("mode", ["abort", "graceful"])
def test_a_push_waiting_for_room_is_released_by_stop_from_another_thread(mode):
    Blocker.entered.clear()
    Blocker.release.clear()
    pipeline = started(app_config([("block", "test_sources.Blocker", {"max_input_queue_size": 1})], streams=["cam"]))
    outcome = {}

    def push_until_refused():
        pushed = 0
        try:
            while pushed < 100000:
                pipeline.push("cam", np.zeros((4, 4, 3), dtype=np.uint8))
                pushed += 1
        except vstream.Error as error:
            outcome["error"] = error
        outcome["pushed"] = pushed

    pusher = threading.Thread(target=push_until_refused)
    pusher.start()
    assert Blocker.entered.wait(timeout=60)  # frame 0 is held: the pusher fills the queue, then waits
    stopper = threading.Thread(target=pipeline.stop, kwargs={"mode": mode})
    stopper.start()
    if mode == "abort":
        pusher.join(timeout=60)  # released by the stop, while the stage still holds its frame
        assert not pusher.is_alive()
        Blocker.release.set()
    else:
        Blocker.release.set()  # a graceful stop lets the frames through, then ends the stream
        pusher.join(timeout=60)
        assert not pusher.is_alive()
    stopper.join(timeout=60)
    assert not stopper.is_alive() and not pipeline.running
    assert isinstance(outcome["error"], vstream.StateError)
    assert outcome["pushed"] >= 1  # frame 0, held by the stage; the next ones as the stop allowed


def test_threads_push_several_streams_at_once():
    streams = [f"s{i}" for i in range(4)]
    pipeline = started(app_config([("pass", "PassThrough", {"parallelism": 2, "max_input_queue_size": 2}),
                                   ("keep", "test_sources.Keeper", {"max_input_queue_size": 2})], streams=streams))
    errors = []

    def push(stream):
        try:
            for i in range(30):
                pipeline.push(stream, np.full((3, 5), i, dtype=np.uint8))
            pipeline.end_stream(stream)
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=push, args=(s,)) for s in streams]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    finish(pipeline)
    frames = kept(pipeline)
    for stream in streams:
        assert [f["index"] for f in frames[stream]] == list(range(30))
        assert [int(f["pixels"][0, 0]) for f in frames[stream]] == list(range(30))
