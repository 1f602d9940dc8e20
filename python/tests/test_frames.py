"""Frames in Python stages: pixels shared with numpy, objects, user data, errors, parallelism."""

import json

import numpy as np
import pytest

import vstream


def run(config):
    pipeline = vstream.Pipeline()
    pipeline.build_from_string(config)
    events = []
    pipeline.set_observer(events.append)
    pipeline.start()
    assert pipeline.wait(timeout=60)
    pipeline.stop()
    return pipeline, events


def test_image_is_a_view_of_the_frame_memory(make_config):
    # Painter writes through its array; Checker, the next module, sees the pixels and the same
    # address: both arrays are views of the one buffer.
    pipeline, events = run(make_config([("paint", "stages.Painter", {}), ("check", "stages.Checker", {})],
                                       streams=2, frames=6, width=40, height=30))
    assert [e for e in events if e.type != "stream_eos"] == []
    painted = pipeline.module("paint")["instance"].addresses
    seen = pipeline.module("check")["instance"].seen
    assert set(seen) == set(painted) and len(seen) == 12
    for key, (pixel, address, flag) in seen.items():
        assert pixel == (key[1] % 200, 7, 9)
        assert address == painted[key]
        assert flag is True


class Inspector:
    """Keeps the properties and arrays of the first frame of each stream."""

    def open(self, params):
        self.first = {}

    def process(self, frame):
        if frame.stream_id in self.first:
            return
        image = frame.image if frame.pixel_format != "nv12" else None
        self.first[frame.stream_id] = dict(
            stream_id=frame.stream_id, frame_index=frame.frame_index, width=frame.width, height=frame.height,
            pixel_format=frame.pixel_format, eos=frame.eos, skipped=frame.skipped, invalid=frame.invalid,
            timestamp=frame.timestamp, pts=frame.pts, image=image, planes=frame.planes)


@pytest.mark.parametrize("pixel_format,shape", [("bgr24", (24, 32, 3)), ("rgb24", (24, 32, 3)), ("gray8", (24, 32))])
def test_frame_properties_and_image_layout(make_config, pixel_format, shape):
    pipeline, _ = run(make_config([("look", "test_frames.Inspector", {})], streams=1, frames=2,
                                  pixel_format=pixel_format))
    first = pipeline.module("look")["instance"].first["stream_0"]
    assert first["frame_index"] == 0 and first["width"] == 32 and first["height"] == 24
    assert first["pixel_format"] == pixel_format
    assert not (first["eos"] or first["skipped"] or first["invalid"])
    image = first["image"]
    assert image.shape == shape and image.dtype == np.uint8
    assert not image.flags.writeable and not image.flags.owndata  # a read-only view (no writes_pixels)
    # The array outlived the frame and the pipeline's run: it keeps the pixels alive.
    assert int(image.sum()) >= 0
    assert len(first["planes"]) == 1


def test_nv12_frames_have_two_planes(make_config):
    pipeline, _ = run(make_config([("look", "test_frames.Inspector", {})], streams=1, frames=1, pixel_format="nv12"))
    planes = pipeline.module("look")["instance"].first["stream_0"]["planes"]
    assert [p.shape for p in planes] == [(24, 32), (12, 32)]


def test_objects_and_data_round_trip(make_config):
    pipeline, events = run(make_config([("label", "stages.Labeler", {}), ("read", "stages.ObjectReader", {}),
                                        ("after", "stages.ObjectReader", {})], streams=1, frames=4))
    assert [e for e in events if e.type != "stream_eos"] == []
    read = pipeline.module("read")["instance"]
    label, label_id, score, box, track_id, attributes, features = read.objects[("stream_0", 3)][0]
    assert (label, label_id, score, track_id) == ("thing", 3, 0.75, 3)
    assert box == pytest.approx((0.1, 0.2, 0.3, 0.4))
    assert attributes == {"color": "red"} and features == {"f": [1.0, 2.0]}
    data = read.data[("stream_0", 3)]
    assert data == {"text": "hello", "count": 3, "ratio": 0.5, "vector": [1.0, 2.5], "blob": b"\x00\x01"}
    # The first reader kept only even track ids: the second sees what it wrote back.
    after = pipeline.module("after")["instance"].objects
    assert [len(after[("stream_0", i)]) for i in range(4)] == [1, 0, 1, 0]


def test_detected_object_fields():
    o = vstream.DetectedObject(label="car", score=0.5)
    assert (o.label, o.label_id, o.score, o.box, o.track_id) == ("car", -1, 0.5, (0, 0, 0, 0), -1)
    o.box = (0.5, 0.5, 0.25, 0.25)
    o.attributes = {"plate": "B-AB 123"}
    assert o.box == (0.5, 0.5, 0.25, 0.25) and o.attributes["plate"] == "B-AB 123"
    with pytest.raises(ValueError, match="x, y, w, h"):
        o.box = (1, 2)


def test_exception_in_process_is_a_frame_error_and_the_pipeline_goes_on(make_config):
    pipeline, events = run(make_config([("fail", "stages.Failer", {}), ("rec", "stages.Recorder", {})],
                                       streams=1, frames=9))
    errors = {e.frame_index: e for e in events if e.type == "frame_error"}
    assert sorted(errors) == [1, 4, 7]
    assert errors[1].module == "fail" and errors[1].stream_id == "stream_0"
    assert "ValueError: no good: frame 1" in errors[1].message
    assert 'stages.py", line' in errors[1].message and "in process" in errors[1].message
    assert "returned False" in errors[4].message
    assert [i for _, i in pipeline.module("rec")["instance"].frames] == [0, 2, 3, 5, 6, 8]
    assert pipeline.module("rec")["instance"].eos == ["stream_0"]
    assert {m["name"]: m for m in pipeline.stats()["modules"]}["fail"]["errors"] == 3


def test_what_process_returns_decides_numpy_values_included(make_config):
    pipeline, events = run(make_config([("ret", "stages.Returner", {}), ("rec", "stages.Recorder", {})],
                                       streams=1, frames=9))
    errors = {e.frame_index: e.message for e in events if e.type == "frame_error"}
    assert sorted(errors) == [1, 3, 5, 6, 7]
    assert "returned False" in errors[1] and "returned -1 (a negative number" in errors[3]
    assert "returned -0.5" in errors[5]
    assert "returned 'yes' of type str; return None, a bool or a number" in errors[6]
    assert "of type ndarray" in errors[7]
    # (and nothing of frame 7's failure is left over to fail frame 8 on the same thread)
    assert [i for _, i in pipeline.module("rec")["instance"].frames] == [0, 2, 4, 8]


def test_parallel_python_module_keeps_per_stream_order(make_config):
    pipeline, events = run(make_config([("pass", "PassThrough", {"parallelism": 2}),
                                        ("rec", "stages.Recorder", {"parallelism": 2})], streams=6, frames=40))
    assert [e for e in events if e.type != "stream_eos"] == []
    recorder = pipeline.module("rec")["instance"]
    for stream in range(6):
        assert [i for s, i in recorder.frames if s == f"stream_{stream}"] == list(range(40))
    assert len(recorder.threads) == 2  # six streams spread over both workers


def test_exceptions_in_on_eos_and_close_are_module_errors(make_config):
    pipeline, events = run(make_config([("end", "stages.EndFailer", {}), ("rec", "stages.Recorder", {})],
                                       streams=2, frames=3))
    module_errors = [e for e in events if e.type == "module_error"]
    assert any("stages.EndFailer.on_eos(): KeyError: 'stream_0'" in e.message and "in on_eos]" in e.message
               for e in module_errors)
    assert any("KeyError: 'stream_1'" in e.message for e in module_errors)
    # The streams still ended: their EOS went on past the failing stage.
    assert sorted(pipeline.module("rec")["instance"].eos) == ["stream_0", "stream_1"]
    assert sorted(e.stream_id for e in events if e.type == "stream_eos") == ["stream_0", "stream_1"]
    assert any("stages.EndFailer.close(): OSError: close failed" in e.message for e in module_errors)


class WritesWithoutSaying:
    """Writes pixels without declaring writes_pixels: its arrays are read-only views."""

    def process(self, frame):
        frame.image[0, 0, 0] = 1


def test_only_a_stage_that_declares_writes_pixels_gets_a_writable_image(make_config):
    _, events = run(make_config([("scribble", "test_frames.WritesWithoutSaying", {})], streams=1, frames=3))
    errors = [e for e in events if e.type == "frame_error"]
    assert len(errors) == 3
    assert "read-only" in errors[0].message, errors[0].message


def test_a_stage_that_writes_pixels_on_a_fan_out_branch_paints_a_copy(make_config):
    # source -> {paint -> painted, plain}: the Painter's branch sees its marker, the other branch
    # the source's pixels and no "painted" user data.
    config = json.loads(make_config([("paint", "stages.Painter", {}), ("painted", "stages.Checker", {})],
                                    streams=2, frames=5, width=40, height=30))
    config["plain"] = {"class_name": "PyModule", "custom_params": {"pyclass_name": "stages.Checker"}}
    config["source"]["next_modules"] = ["paint", "plain"]
    pipeline, events = run(json.dumps(config))
    assert [e for e in events if e.type != "stream_eos"] == []
    painted = pipeline.module("painted")["instance"].seen
    plain = pipeline.module("plain")["instance"].seen
    assert len(painted) == len(plain) == 10
    for key in painted:
        assert painted[key][0] == (key[1] % 200, 7, 9) and painted[key][2] is True
        assert plain[key][0] != painted[key][0] and plain[key][2] is None
        assert plain[key][1] != painted[key][1]  # two buffers
