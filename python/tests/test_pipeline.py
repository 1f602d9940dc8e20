"""vstream.Pipeline from Python: build, run, events, stats, errors, inspect."""

import threading

import pytest

import vstream


def run(pipeline):
    pipeline.start()
    assert pipeline.running
    assert pipeline.wait(timeout=60)
    pipeline.stop()
    assert not pipeline.running


def test_version_and_classes():
    assert vstream.__version__.count(".") == 2
    classes = vstream.module_classes()
    for name in ("SyntheticSource", "PassThrough", "ResultSink", "PyModule"):
        assert name in classes


def test_inspect_gives_parameter_specs():
    info = vstream.inspect("cnstream::SyntheticSource")
    assert info["class_name"] == "SyntheticSource"
    assert info["is_source"]
    frames = next(p for p in info["params"] if p["name"] == "frames")
    assert frames["type"] == "int" and frames["default"] == "100" and frames["min"] == 0
    fmt = next(p for p in info["params"] if p["name"] == "pixel_format")
    assert "nv12" in fmt["choices"]
    py = vstream.inspect("PyModule")
    assert [p["name"] for p in py["params"]] == ["pyclass_name", "pyclass_params"]
    assert py["params"][0]["required"]


def test_inspect_unknown_class_raises():
    with pytest.raises(vstream.NotFoundError, match="not registered"):
        vstream.inspect("NoSuchModule")


def test_frames_arrive_in_order_per_stream(make_config):
    pipeline = vstream.Pipeline("order")
    pipeline.build_from_string(make_config([("pass", "PassThrough", {}), ("rec", "stages.Recorder", {})],
                                           streams=3, frames=25))
    run(pipeline)
    recorder = pipeline.module("rec")["instance"]
    assert recorder.closed
    for stream in ("stream_0", "stream_1", "stream_2"):
        assert [i for s, i in recorder.frames if s == stream] == list(range(25))
    assert sorted(recorder.eos) == ["stream_0", "stream_1", "stream_2"]


def test_module_lookup_and_params(make_config):
    pipeline = vstream.Pipeline()
    pipeline.build_from_string(make_config([("rec", "stages.Recorder", {"custom_params": {
        "pyclass_params": ["threshold=0.5", "label=face"]}})], streams=1, frames=1))
    info = pipeline.module("rec")
    assert info["name"] == "rec" and info["class_name"] == "PyModule" and info["parallelism"] == 1
    assert info["instance"] is None  # not opened yet
    assert pipeline.module_names() == ["source", "rec"]
    with pytest.raises(vstream.NotFoundError, match="no module 'nope'"):
        pipeline.module("nope")
    run(pipeline)
    assert pipeline.module("rec")["instance"].params == {"threshold": "0.5", "label": "face"}


def test_overrides_apply(make_config):
    pipeline = vstream.Pipeline()
    pipeline.build_from_string(make_config([("rec", "stages.Recorder", {})], streams=1, frames=5),
                               overrides=["source.frames=7", "source.streams=2"])
    run(pipeline)
    assert len(pipeline.module("rec")["instance"].frames) == 14


def test_stats_dict(make_config):
    pipeline = vstream.Pipeline()
    pipeline.build_from_string(make_config([("pass", "PassThrough", {"parallelism": 2})], streams=2, frames=12))
    run(pipeline)
    stats = pipeline.stats()
    modules = {m["name"]: m for m in stats["modules"]}
    assert modules["pass"]["class_name"] == "PassThrough"
    assert modules["pass"]["parallelism"] == 2
    assert modules["pass"]["frames_in"] == 2 * 12 + 2  # EOS frames count
    assert modules["pass"]["errors"] == 0
    streams = {s["stream_id"]: s for s in stats["streams"]}
    assert set(streams) == {"stream_0", "stream_1"}
    assert all(s["frames"] == 12 and s["finished"] for s in streams.values())


def test_config_error_raises_with_message(make_config):
    pipeline = vstream.Pipeline()
    with pytest.raises(vstream.ConfigError, match="unknown parameter 'frams'.*did you mean 'frames'"):
        pipeline.build_from_string(make_config([("pass", "PassThrough", {})]), overrides=["source.frams=3"])
    with pytest.raises(vstream.ConfigError, match="unknown class_name 'Nope'"):
        pipeline.build_from_string('{"a": {"class_name": "Nope"}}')
    with pytest.raises(vstream.ConfigError):
        pipeline.build_from_string("{ not json")
    with pytest.raises(vstream.Error):
        pipeline.build_from_file("/nonexistent/pipeline.json")
    assert issubclass(vstream.ConfigError, vstream.Error) and issubclass(vstream.Error, Exception)


def test_state_errors():
    pipeline = vstream.Pipeline()
    with pytest.raises(vstream.StateError):
        pipeline.start()
    with pytest.raises(vstream.ArgumentError, match="graceful"):
        pipeline.stop(mode="sideways")


def test_timeouts_without_limit_and_invalid_ones(make_config):
    pipeline = vstream.Pipeline()
    pipeline.build_from_string(make_config([("pass", "PassThrough", {})], streams=1, frames=3))
    pipeline.start()
    assert pipeline.wait(timeout=float("inf"))
    for bad in (float("nan"), -1.0):
        with pytest.raises(vstream.ArgumentError, match="timeout must be a number of seconds >= 0"):
            pipeline.wait(timeout=bad)
        with pytest.raises(vstream.ArgumentError, match="drain_timeout must be a number of seconds >= 0"):
            pipeline.stop(drain_timeout=bad)
    pipeline.stop(drain_timeout=None)
    assert not pipeline.running


def test_python_module_open_failure_is_reported(make_config):
    pipeline = vstream.Pipeline()
    pipeline.build_from_string(make_config([("bad", "stages.BrokenOpen", {"custom_params": {
        "pyclass_params": ["why=disk full"]}})]))
    with pytest.raises(vstream.Error, match=r"RuntimeError: cannot open: disk full \[File .*stages.py"):
        pipeline.start()
    pipeline.build_from_string(make_config([("bad", "stages.NoSuchClass", {})]))
    with pytest.raises(vstream.Error, match="AttributeError"):
        pipeline.start()


def test_observer_receives_eos_events(make_config):
    pipeline = vstream.Pipeline()
    pipeline.build_from_string(make_config([("pass", "PassThrough", {})], streams=3, frames=4))
    events = []
    pipeline.set_observer(events.append)
    run(pipeline)  # stop() delivers every pending event before it returns
    eos = [e for e in events if e.type == "stream_eos"]
    assert sorted(e.stream_id for e in eos) == ["stream_0", "stream_1", "stream_2"]
    assert all(e.time > 0 for e in eos)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_observer_that_raises_keeps_receiving(make_config):
    pipeline = vstream.Pipeline()
    pipeline.build_from_string(make_config([("pass", "PassThrough", {})], streams=3, frames=2))
    seen = []

    def observer(event):
        seen.append(event.stream_id)
        raise RuntimeError("observer failed")

    pipeline.set_observer(observer)
    run(pipeline)
    assert sorted(seen) == ["stream_0", "stream_1", "stream_2"]


def test_add_and_remove_source(make_config):
    pipeline = vstream.Pipeline()
    pipeline.build_from_string(make_config([("rec", "stages.Recorder", {})], streams=0, frames=0))
    with pytest.raises(vstream.StateError):
        pipeline.add_source("early", "synthetic://")  # not running yet
    pipeline.start()
    pipeline.add_source("extra", "synthetic://", options={}, source_module="source")  # endless until removed
    with pytest.raises(vstream.ArgumentError):
        pipeline.add_source("extra", "synthetic://")
    with pytest.raises(vstream.Error):
        pipeline.remove_source("no_such_stream")
    pipeline.remove_source("extra")
    assert pipeline.wait(timeout=60)
    pipeline.stop()
    recorder = pipeline.module("rec")["instance"]
    indexes = [i for s, i in recorder.frames if s == "extra"]
    assert indexes == list(range(len(indexes)))
    assert recorder.eos == ["extra"]


def test_wait_releases_the_gil(make_config):
    # A Python thread keeps running while the main thread waits in C++: it finishes its work and
    # then ends the stream that the wait is waiting for.
    pipeline = vstream.Pipeline()
    pipeline.build_from_string(make_config([("rec", "stages.Recorder", {})], streams=0, frames=0))
    pipeline.start()
    pipeline.add_source("endless", "synthetic://")
    done = threading.Event()

    def end_later():
        sum(range(100000))
        pipeline.remove_source("endless")
        done.set()

    thread = threading.Thread(target=end_later)
    thread.start()
    assert pipeline.wait(timeout=60)
    thread.join()
    assert done.is_set()
    pipeline.stop()


def test_dropping_a_running_pipeline_does_not_hang(make_config):
    pipeline = vstream.Pipeline()
    pipeline.build_from_string(make_config([("rec", "stages.Recorder", {"parallelism": 2})], streams=4, frames=0))
    pipeline.start()
    del pipeline  # aborts without the GIL while the PyModule workers want it


def test_wait_can_be_interrupted(make_config):
    # Ctrl-C reaches a program blocked in wait() on endless streams.
    pipeline = vstream.Pipeline()
    pipeline.build_from_string(make_config([("stop", "stages.Interrupter", {})], streams=1, frames=0))
    pipeline.start()
    with pytest.raises(KeyboardInterrupt):
        pipeline.wait()
    pipeline.stop(mode="abort")


def test_wait_on_a_pipeline_that_does_not_run_returns(make_config):
    pipeline = vstream.Pipeline()
    pipeline.build_from_string(make_config([("pass", "PassThrough", {})], streams=1, frames=0))
    assert isinstance(pipeline.wait(), bool)  # never started: returns at once, whatever it says
    pipeline.start()
    pipeline.stop(mode="abort")
    assert isinstance(pipeline.wait(), bool)  # stopped: returns at once


def test_with_block_stops_the_pipeline(make_config):
    with vstream.Pipeline() as pipeline:
        pipeline.build_from_string(make_config([("rec", "stages.Recorder", {})], streams=2, frames=5))
        pipeline.start()
        assert pipeline.wait(timeout=60)
    assert not pipeline.running
    assert len(pipeline.module("rec")["instance"].frames) == 10

    with pytest.raises(RuntimeError, match="inside the block"):
        with vstream.Pipeline() as endless:
            endless.build_from_string(make_config([("rec", "stages.Recorder", {})], streams=1, frames=0))
            endless.start()
            raise RuntimeError("inside the block")
    assert not endless.running  # aborted: the endless stream did not keep it running


def test_stats_table_is_the_tools_table(make_config):
    pipeline = vstream.Pipeline()
    pipeline.build_from_string(make_config([("pass", "PassThrough", {})], streams=2, frames=4))
    pipeline.start()
    assert pipeline.wait(timeout=60)
    first = pipeline.stats_table(since_last=True)
    pipeline.stop()
    table = pipeline.stats_table()
    for text in (first, table):
        header = next(line for line in text.splitlines() if line.split()[:2] == ["module", "class"])
        assert header.split()[2:5] == ["par", "in", "out"]
    rows = {line.split()[0]: line.split() for line in table.splitlines() if line.split()}
    # in and out: 2 streams x (4 frames + the EOS frame); each stream row: 4 frames, 4 done
    assert rows["pass"][1] == "PassThrough" and rows["pass"][3:5] == ["10", "10"]
    assert rows["stream_0"][1:3] == ["4", "4"] and rows["stream_1"][1:3] == ["4", "4"]
