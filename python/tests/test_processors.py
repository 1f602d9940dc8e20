"""Inferencer pre- and postprocessors written in Python ("python", CNStream's PyPreproc/PyPostproc):
the same faces as the built-in BlazeFace processors on real video, params, one instance per module,
errors as frame_error events, and the vstream tool running them through the host plugin."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

import vstream

HERE = pathlib.Path(__file__).resolve().parent
SAMPLES = HERE.parent.parent / "samples" / "python"
sys.path.insert(0, str(SAMPLES))  # blazeface_postproc, the sample's numpy decoder

import processors  # noqa: E402  (after the path: the pipeline imports it by name, as here)

MEGAMIND = pathlib.Path("/usr/share/doc/opencv-doc/examples/data/Megamind.avi")
from conftest import TOOL, run_tool_with_host  # noqa: E402


@pytest.fixture(scope="module")
def model():
    cache = pathlib.Path(os.environ.get("VSTREAM_CACHE") or pathlib.Path.home() / ".cache" / "vstream")
    path = cache / "models" / "blazeface" / "face_detection_front_128x128_barracuda.onnx"
    if not path.exists():
        pytest.fail(f"{path} is missing: run scripts/fetch_models.sh")
    return str(path)


def blazeface(model, **params):
    """An Inferencer's custom_params: BlazeFace's preprocessing, then `params`."""
    settings = {"model_path": model, "postproc_name": "blazeface", "resize": "letterbox",
                "scale": 0.0078431373, "mean": [1, 1, 1]}
    settings.update(params)
    return settings


def detect(source, inferencers, streams=None):
    """Runs `source` -> the Inferencers (name, custom_params), chained -> processors.ObjectRecorder;
    returns the recorder and the events."""
    config = {"source": source}
    names = [name for name, _ in inferencers] + ["record"]
    config["source"]["next_modules"] = [names[0]]
    for i, (name, params) in enumerate(inferencers):
        config[name] = {"class_name": "Inferencer", "next_modules": [names[i + 1]], "custom_params": params}
    config["record"] = {"class_name": "PyModule", "custom_params": {"pyclass_name": "processors.ObjectRecorder"}}
    pipeline = vstream.Pipeline("processors")
    pipeline.build_from_string(json.dumps(config))
    events = []
    pipeline.set_observer(events.append)
    pipeline.start()
    for stream_id, uri in (streams or {}).items():
        pipeline.add_source(stream_id, uri)
    assert pipeline.wait(timeout=240)
    pipeline.stop()
    return pipeline.module("record")["instance"], events


def megamind(**params):
    assert MEGAMIND.exists(), "scripts/deps.sh installs opencv-doc, whose Megamind.avi these tests decode"
    return {"class_name": "DataSource", "custom_params": {"interval": 9, **params}}


def synthetic(streams=1, frames=8, width=64, height=48):
    return {"class_name": "SyntheticSource",
            "custom_params": {"streams": streams, "frames": frames, "width": width, "height": height}}


def assert_same_faces(found, expected, tolerance):
    assert found.keys() == expected.keys()
    for key in expected:
        assert len(found[key]) == len(expected[key]), key
        for (label, score, box, features, _), (label0, score0, box0, features0, _) in zip(found[key], expected[key]):
            assert label == label0 == "face"
            assert score == pytest.approx(score0, abs=tolerance), key
            assert box == pytest.approx(box0, abs=tolerance), key
            assert features["keypoints"] == pytest.approx(features0["keypoints"], abs=tolerance), key


def test_python_postprocessor_finds_the_faces_the_built_in_one_finds(model):
    built_in, _ = detect(megamind(), [("faces", blazeface(model))], {"megamind": str(MEGAMIND)})
    python, events = detect(megamind(), [("faces", blazeface(model, postproc_name="python", postproc_params=[
        "pyclass_name=blazeface_postproc.BlazeFacePostprocessor"]))], {"megamind": str(MEGAMIND)})
    assert [e for e in events if e.type == "frame_error"] == []
    assert len(built_in.objects) == 30
    assert sum(1 for faces in built_in.objects.values() if faces) >= 15  # the comparison means something
    assert_same_faces(python.objects, built_in.objects, 1e-4)


def test_cnstream_name_and_threshold_reach_the_python_postprocessor(model):
    # PyPostproc (CNStream's class name) is the same processor; the Inferencer's threshold wins over
    # the class's own default.
    strict, _ = detect(megamind(), [("faces", blazeface(model, threshold=0.9))], {"megamind": str(MEGAMIND)})
    python, _ = detect(megamind(), [("faces", blazeface(model, threshold=0.9, postproc_name="cnstream::PyPostproc",
                                                        postproc_params=[
        "pyclass_name=blazeface_postproc.BlazeFacePostprocessor", "threshold=0.1"]))], {"megamind": str(MEGAMIND)})
    assert_same_faces(python.objects, strict.objects, 1e-4)


def test_python_preprocessor_reproducing_the_built_in_one_gives_the_same_faces(model, tmp_path):
    # Frames already of the model's size: both resize nothing, so the inputs are equal to the bit
    # and so are the faces. (The frames are Megamind letterboxed to 128x128 by ffmpeg.)
    clip = tmp_path / "megamind_128.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(MEGAMIND), "-frames:v", "90", "-vf",
                    "scale=128:94,pad=128:128:0:17", "-c:v", "libx264", "-qp", "0", str(clip)], check=True)
    source = {"class_name": "DataSource", "custom_params": {"interval": 3}}
    built_in, _ = detect(dict(source), [("faces", blazeface(model))], {"clip": str(clip)})
    processors.LetterboxPreprocessor.calls = 0
    python, events = detect(dict(source), [("faces", blazeface(model, preproc_name="python", preproc_params=[
        "pyclass_name=processors.LetterboxPreprocessor"]))], {"clip": str(clip)})
    assert [e for e in events if e.type == "frame_error"] == []
    assert processors.LetterboxPreprocessor.calls == 30
    assert sum(1 for faces in built_in.objects.values() if faces) >= 10
    assert_same_faces(python.objects, built_in.objects, 1e-6)


def test_python_preprocessor_on_full_frames_finds_nearly_the_same_faces(model):
    # On 720x528 frames numpy's bilinear resize and OpenCV's round differently (OpenCV computes in
    # fixed point): the same faces, a little apart. Both processors are Python here, and the
    # preprocessor's transform undoes its letterbox. (Megamind's faces score 0.85 and more, far from
    # the 0.75 threshold, so no face falls on the other side of it.)
    built_in, _ = detect(megamind(), [("faces", blazeface(model))], {"megamind": str(MEGAMIND)})
    python, _ = detect(megamind(), [("faces", blazeface(model, preproc_name="PyPreproc", preproc_params=[
        "pyclass_name=processors.LetterboxPreprocessor"], postproc_name="python", postproc_params=[
        "pyclass_name=blazeface_postproc.BlazeFacePostprocessor"]))], {"megamind": str(MEGAMIND)})
    assert sum(1 for faces in built_in.objects.values() if faces) >= 15
    assert_same_faces(python.objects, built_in.objects, 0.01)


def test_params_and_context_reach_the_python_processors(model, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("face\nother\n")
    processors.ParamsProbe.instances.clear()
    recorder, events = detect(synthetic(frames=2, width=64, height=48), [("probe", {
        "model_path": model, "labels_path": str(labels), "threshold": 0.6, "top_k": 3,
        "postproc_name": "python", "postproc_params": ["pyclass_name=processors.ParamsProbe", "label=plate",
                                                       "expr = a=b"],
        "preproc_name": "python", "preproc_params": ["pyclass_name=processors.ZeroPreprocessor", "fill=0.5"]})])
    assert [e for e in events if e.type == "frame_error"] == []
    [probe] = processors.ParamsProbe.instances
    assert probe.params == {"label": "plate", "expr": "a=b"}  # pyclass_name is not passed on
    assert len(probe.contexts) == 2
    context = probe.contexts[0]
    assert context["dtypes"] and set(context["dtypes"]) == {"float32"}
    assert sorted(context["shapes"]) == [(384, 1), (384, 16), (512, 1), (512, 16)]  # batch dimension gone
    assert context["input"] == (128, 128)
    assert context["region"] == (64, 48)
    assert context["threshold"] == pytest.approx(0.6)
    assert context["nms_threshold"] == pytest.approx(0.45)
    assert context["top_k"] == 3
    assert context["labels"] == ("face", "other")
    assert context["params"] == {"label": "plate", "expr": "a=b"}
    assert context["whole_input"] == pytest.approx((0, 0, 1, 1))  # stretched: the input is the whole frame
    assert [o[0] for o in recorder.objects[("stream_0", 0)]] == ["plate"]


def test_each_inferencer_module_gets_its_own_instance(model):
    processors.ParamsProbe.instances.clear()
    recorder, _ = detect(synthetic(frames=3), [
        ("first", {"model_path": model, "postproc_name": "python",
                   "postproc_params": ["pyclass_name=processors.ParamsProbe", "label=a"]}),
        ("second", {"model_path": model, "postproc_name": "PyPostproc",
                    "postproc_params": ["pyclass_name=processors.ParamsProbe", "label=b"]})])
    instances = processors.ParamsProbe.instances
    assert len(instances) == 2 and instances[0] is not instances[1]
    assert sorted(p.params["label"] for p in instances) == ["a", "b"]
    assert [len(p.contexts) for p in instances] == [3, 3]
    for index in range(3):
        objects = recorder.objects[("stream_0", index)]
        assert [o[0] for o in objects] == ["a", "b"]
        assert objects[0][4]["instance"] != objects[1][4]["instance"]


def frame_errors(events):
    return {e.frame_index: e.message for e in events if e.type == "frame_error"}


def test_postprocessor_errors_are_frame_errors_and_the_pipeline_goes_on(model):
    recorder, events = detect(synthetic(frames=10), [("infer", {
        "model_path": model, "postproc_name": "python",
        "postproc_params": ["pyclass_name=processors.FlakyPostprocessor"]})])
    errors = frame_errors(events)
    assert sorted(errors) == [1, 3, 5, 7]
    assert all(e.module == "infer" for e in events if e.type == "frame_error")
    assert errors[1].startswith("postprocessing failed: processors.FlakyPostprocessor.process(): "
                                "ValueError: boom on call 1 [File ")
    assert "processors.py" in errors[1] and "in process]" in errors[1]
    assert errors[3] == ("postprocessing failed: processors.FlakyPostprocessor.process() returned a str; "
                         "expected a list of vstream.DetectedObject (or None)")
    assert "returned a list whose item 1 is a int; expected vstream.DetectedObject" in errors[5]
    assert "returned a dict; expected a list" in errors[7]
    # The failed frames go no further; every other frame arrives, in order, with its object.
    assert sorted(i for _, i in recorder.objects) == [0, 2, 4, 6, 8, 9]
    assert all(objects == [("fine", 1.0, (0.0, 0.0, 0.5, 0.5), {}, {})] for objects in recorder.objects.values())


def test_preprocessor_errors_are_frame_errors_and_the_pipeline_goes_on(model):
    recorder, events = detect(synthetic(frames=8), [("infer", {
        "model_path": model, "postproc_name": "blazeface", "preproc_name": "python",
        "preproc_params": ["pyclass_name=processors.FlakyPreprocessor"]})])
    errors = frame_errors(events)
    assert sorted(errors) == [1, 2, 3, 4, 5]
    prefix = "preprocessing failed: processors.FlakyPreprocessor.process"
    assert all(message.startswith(prefix) for message in errors.values()), errors
    expected = ("a float32 numpy array of 128 x 128 x 3 = 49152 values in the model's layout (nhwc), or a tuple "
                "(array, (scale_x, scale_y, pad_x, pad_y))")
    assert "(): KeyError: 'missing' [File " in errors[1]
    assert errors[2] == f"{prefix}() returned an array of 49151 values (shape (49151)); expected {expected}"
    assert errors[3] == f"{prefix}() returned a list; expected {expected}"
    assert "returned the transform (0.0, 1.0, 0.0, 0.0); expected (scale_x, scale_y, pad_x, pad_y)" in errors[4]
    assert "returned an array of dtype <U1; expected" in errors[5]
    assert sorted(i for _, i in recorder.objects) == [0, 6, 7]


@pytest.mark.parametrize("params, message", [
    ({"postproc_params": ["label=a"]},
     r"module 'infer' \(Inferencer\) failed to open: postproc_name: postprocessor 'python': postproc_params has no "
     r"pyclass_name=package.module.Class"),
    ({"postproc_params": ["pyclass_name=Decoder"]}, r"pyclass_name 'Decoder' is not of the form module.Class"),
    ({"postproc_params": ["pyclass_name=processors.NoSuchClass"]},
     r"postprocessor 'python': processors.NoSuchClass: AttributeError: .*NoSuchClass"),
    ({"postproc_params": ["pyclass_name=no_such_module.Decoder"]},
     r"ModuleNotFoundError: No module named 'no_such_module'"),
    ({"postproc_params": ["pyclass_name=processors.NoProcess"]}, r"processors.NoProcess has no process\(\) method"),
    ({"postproc_params": ["pyclass_name=processors.BrokenOpen", "table=anchors.bin"]},
     r"processors.BrokenOpen: RuntimeError: cannot load anchors.bin \[File .*processors.py"),
    ({"postproc_params": ["pyclass_name"]}, r"postproc_params: item 'pyclass_name' is not of the form key=value"),
    ({"preproc_name": "python"}, r"preproc_name: preprocessor 'python': preproc_params has no pyclass_name"),
])
def test_bad_processor_settings_fail_start_with_the_reason(model, params, message):
    settings = {"model_path": model, "postproc_name": "python",
                "postproc_params": ["pyclass_name=processors.ParamsProbe"]}
    settings.update(params)
    pipeline = vstream.Pipeline()
    pipeline.build_from_string(json.dumps({"source": dict(synthetic(), next_modules=["infer"]),
                                           "infer": {"class_name": "Inferencer", "custom_params": settings}}))
    with pytest.raises(vstream.Error, match=message):
        pipeline.start()
    assert not pipeline.running


def test_inferencer_declares_the_processor_params():
    params = {p["name"]: p for p in vstream.inspect("Inferencer")["params"]}
    assert params["preproc_params"]["type"] == "list" and params["postproc_params"]["type"] == "list"
    assert "python" in params["postproc_name"]["description"]


@pytest.mark.skipif(not TOOL, reason="VSTREAM_CLI (the vstream tool) is not set")
def test_vstream_run_with_python_processors(model, tmp_path):
    # The host plugin gives the tool the same processors: a blank input from Python, one object per
    # frame from Python, every frame in the ResultSink's lines.
    results = tmp_path / "results.jsonl"
    config = {
        "source": {"class_name": "SyntheticSource", "next_modules": ["infer"],
                   "custom_params": {"streams": 2, "frames": 6, "width": 64, "height": 48}},
        "infer": {"class_name": "cnstream::Inferencer", "parallelism": 2, "next_modules": ["sink"],
                  "custom_params": {"model_path": model, "postproc_name": "cnstream::PyPostproc",
                                    "custom_postproc_params": {"pyclass_name": "processors.ParamsProbe",
                                                               "label": "from_python"},
                                    "preproc_name": "PyPreproc",
                                    "custom_preproc_params": {"pyclass_name": "processors.ZeroPreprocessor"}}},
        "sink": {"class_name": "ResultSink", "custom_params": {"path": str(results)}},
    }
    result = run_tool_with_host(config, tmp_path, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    for stream in ("stream_0", "stream_1"):
        frames = [line for line in lines if line["stream_id"] == stream]
        assert [line["frame_index"] for line in frames] == list(range(6))
        assert all([o["label"] for o in line["objects"]] == ["from_python"] for line in frames)


@pytest.mark.skipif(not TOOL, reason="VSTREAM_CLI (the vstream tool) is not set")
def test_vstream_run_with_a_python_processor_but_no_package_says_what_to_do(model, tmp_path):
    config = {
        "source": {"class_name": "SyntheticSource", "next_modules": ["infer"], "custom_params": {"streams": 1}},
        "infer": {"class_name": "Inferencer", "custom_params": {
            "model_path": model, "postproc_name": "python", "postproc_params": ["pyclass_name=processors.ParamsProbe"]}},
    }
    result = run_tool_with_host(config, tmp_path, with_package=False, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "postprocessor 'python': cannot import the vstream Python package" in output
    assert "PYTHONPATH" in output
