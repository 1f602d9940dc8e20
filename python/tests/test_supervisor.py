"""vstream.Supervisor: the parts of a pipeline split with ModuleIPC run as `python -m vstream run` processes,
restarted when they die, stopped together when one fails for good, and never left running without
their supervisor. Real processes, real shared memory and sockets; everything is observed by polling
a condition with a deadline, never by waiting a fixed time."""

import ctypes
import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

import vstream

HERE = pathlib.Path(__file__).resolve().parent
DEADLINE = 180  # seconds: generous, for a loaded machine


@pytest.fixture(autouse=True)
def stages_import_the_test_stages(monkeypatch):
    # The stages are processes of their own: they find split_stages.py through PYTHONPATH.
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (path, str(HERE)) if p))


def write(path, modules):
    path.write_text(json.dumps(modules))
    return str(path)


def socket_name():
    return f"vstream-pytest-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def server_config(tmp_path, socket, results, stages=()):
    """ipc (server) -> stages... -> ResultSink (appending and flushing each line, so a restarted
    server adds to what the killed one wrote)."""
    names = [name for name, _ in stages] + ["sink"]
    modules = {"ipc": {"class_name": "ModuleIPC", "next_modules": [names[0]],
                       "custom_params": {"ipc_type": "server", "socket_address": socket}}}
    for i, (name, module) in enumerate(stages):
        modules[name] = {**module, "next_modules": [names[i + 1]]}
    modules["sink"] = {"class_name": "ResultSink",
                       "custom_params": {"path": str(results), "append": True, "flush": True}}
    return write(tmp_path / "server.json", modules)


def client_config(tmp_path, socket, streams=2, frames=20, stages=()):
    """SyntheticSource -> stages... -> ipc (client), which waits as long as the tests do for a
    (restarted) server to acknowledge its frames."""
    names = [name for name, _ in stages] + ["ipc"]
    modules = {"source": {"class_name": "SyntheticSource", "next_modules": [names[0]],
                          "custom_params": {"streams": streams, "frames": frames, "width": 32, "height": 24}}}
    for i, (name, module) in enumerate(stages):
        modules[name] = {**module, "next_modules": [names[i + 1]]}
    modules["ipc"] = {"class_name": "ModuleIPC", "custom_params": {"ipc_type": "client", "socket_address": socket,
                                                                   "close_timeout_ms": DEADLINE * 1000}}
    return write(tmp_path / "client.json", modules)


def endless_config(tmp_path, name, stall=0.0):
    """A stage whose stream never ends; with `stall`, a Python stage keeps each frame that long, so a
    graceful stop has a full queue to drain."""
    results = tmp_path / f"{name}.jsonl"
    modules = {"source": {"class_name": "SyntheticSource", "next_modules": ["slow" if stall else "sink"],
                          "custom_params": {"streams": 1, "frames": 0, "width": 16, "height": 16, "frame_rate": 100}}}
    if stall:
        modules["slow"] = {"class_name": "PyModule", "next_modules": ["sink"], "max_input_queue_size": 50,
                           "custom_params": {"pyclass_name": "split_stages.Stalls", "seconds": stall}}
    modules["sink"] = {"class_name": "ResultSink", "custom_params": {"path": str(results), "flush": True}}
    return write(tmp_path / f"{name}.json", modules), results


def results_of(path):
    if not os.path.exists(path):
        return []
    return [json.loads(line) for line in pathlib.Path(path).read_text().splitlines()]


def poll(condition, what):
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def stage_of(supervisor, config):
    return next(stage for stage in supervisor.stages if stage["config"] == config)


def test_a_split_pipeline_runs_to_completion(tmp_path):
    socket = socket_name()
    results = tmp_path / "results.jsonl"
    server = server_config(tmp_path, socket, results)
    client = client_config(tmp_path, socket)
    events = []
    with vstream.Supervisor([server, client], on_event=events.append) as supervisor:
        assert supervisor.wait(timeout=DEADLINE) == 0
    frames = [(f["stream_id"], f["frame_index"]) for f in results_of(results)]
    assert sorted(frames) == [(f"stream_{s}", i) for s in range(2) for i in range(20)]
    for stream in ("stream_0", "stream_1"):  # in order per stream
        assert [i for s, i in frames if s == stream] == list(range(20))
    stages = supervisor.stages
    assert [s["config"] for s in stages] == [server, client]
    assert all(s["state"] == "ended" and s["exit_code"] == 0 and s["restarts"] == 0 and s["pid"] is None
               for s in stages), stages
    started = [e for e in events if e["event"] == "started"]
    assert sorted(e["config"] for e in started) == sorted([server, client])
    assert events[-1] == {"event": "finished", "exit_code": 0}
    assert not supervisor.running


def test_python_stages_run_on_both_sides_without_a_host_plugin(tmp_path):
    socket = socket_name()
    results = tmp_path / "results.jsonl"
    tagger = {"class_name": "PyModule", "custom_params": {"pyclass_name": "split_stages.Tagger", "label": "client",
                                                          "attributes": {"side": "upstream"}}}
    server = server_config(tmp_path, socket, results, [
        ("tag", {"class_name": "PyModule", "custom_params": {"pyclass_name": "split_stages.Tagger",
                                                             "label": "server"}})])
    client = client_config(tmp_path, socket, streams=1, frames=8, stages=[("tag", tagger)])
    with vstream.Supervisor([client, server]) as supervisor:
        assert supervisor.wait(timeout=DEADLINE) == 0
    frames = results_of(results)
    assert [f["frame_index"] for f in frames] == list(range(8))
    for frame in frames:  # the client's object crossed the processes; the server's was added there
        assert [(o["label"], o["attributes"]) for o in frame["objects"]] == [
            ("client", {"side": "upstream"}), ("server", {})]


def test_a_killed_stage_is_restarted_and_the_pipeline_completes(tmp_path):
    socket = socket_name()
    results = tmp_path / "results.jsonl"
    release = tmp_path / "release"
    # The server holds every frame from index 3 on until `release` exists: it is killed with frames
    # in flight, which the client resends to the restarted server. (The gate has one worker: the
    # first stream to reach frame 3 holds the other's frames too, so 3 lines are all that is sure.)
    server = server_config(tmp_path, socket, results, [
        ("gate", {"class_name": "PyModule", "custom_params": {"pyclass_name": "split_stages.Gate",
                                                              "release": str(release), "hold_from": 3}})])
    client = client_config(tmp_path, socket, streams=2, frames=20)
    events = []
    supervisor = vstream.Supervisor([server, client], restarts=1, on_event=events.append)
    supervisor.start()
    try:
        poll(lambda: len(results_of(results)) >= 3, "the first frames")
        first = stage_of(supervisor, server)["pid"]
        os.kill(first, signal.SIGKILL)
        release.touch()
        assert supervisor.wait(timeout=DEADLINE) == 0
    finally:
        supervisor.stop()
    seen = {(f["stream_id"], f["frame_index"]) for f in results_of(results)}  # resent frames may repeat
    assert seen == {(f"stream_{s}", i) for s in range(2) for i in range(20)}
    stage = stage_of(supervisor, server)
    assert stage["restarts"] == 1 and stage["exit_code"] == 0
    exited = [e for e in events if e["event"] == "exited" and e["pid"] == first]
    assert exited == [{"event": "exited", "config": server, "pid": first, "exit_code": 1, "signal": signal.SIGKILL}]
    restarting = [e for e in events if e["event"] == "restarting"]
    assert restarting == [{"event": "restarting", "config": server, "delay": 0.5, "restart": 1, "of": 1}]
    assert stage_of(supervisor, client)["restarts"] == 0


def test_an_invalid_config_exits_2_and_stops_the_others(tmp_path):
    endless, written = endless_config(tmp_path, "endless")
    invalid = write(tmp_path / "invalid.json", {
        "source": {"class_name": "SyntheticSource", "next_modules": ["a"]}, "a": {"class_name": "NoSuchClass"}})
    events = []
    # restarts do not apply to an invalid config: restarting it cannot help.
    supervisor = vstream.Supervisor([endless, invalid], restarts=3, on_event=events.append)
    supervisor.start()
    assert supervisor.wait(timeout=DEADLINE) == 2
    stages = {s["config"]: s for s in supervisor.stages}
    assert stages[invalid]["exit_code"] == 2 and stages[invalid]["restarts"] == 0
    assert stages[endless]["state"] == "ended" and stages[endless]["exit_code"] == 0  # stopped gracefully
    stopping = [e for e in events if e["event"] == "stopping"]
    assert len(stopping) == 1 and stopping[0]["reason"].startswith(f"stage {invalid} (pid ")
    assert stopping[0]["reason"].endswith("exited with code 2")
    assert supervisor.stop() == 2  # nothing left to stop


def test_stop_ends_stages_that_would_run_forever(tmp_path):
    first, first_written = endless_config(tmp_path, "first")
    second, second_written = endless_config(tmp_path, "second")
    supervisor = vstream.Supervisor([first, second], overrides={second: ["source.stream_prefix=cam"]})
    supervisor.start()
    poll(lambda: results_of(first_written) and results_of(second_written), "frames from both stages")
    assert all(s["state"] == "running" and s["pid"] > 0 for s in supervisor.stages)
    assert supervisor.stop() == 0
    assert all(s["state"] == "ended" and s["exit_code"] == 0 for s in supervisor.stages)
    assert results_of(first_written)[0]["stream_id"] == "stream_0"
    assert results_of(second_written)[0]["stream_id"] == "cam0"  # its own override only


def test_stop_with_abort_makes_every_stage_abort(tmp_path, capfd):
    # Stages with a slow Python stage: a graceful stop would drain seconds of queued frames.
    first, first_written = endless_config(tmp_path, "first", stall=0.2)
    second, second_written = endless_config(tmp_path, "second", stall=0.2)
    events = []
    supervisor = vstream.Supervisor([first, second], on_event=events.append)
    supervisor.start()
    poll(lambda: results_of(first_written) and results_of(second_written), "frames from both stages")
    code = supervisor.stop(abort=True)
    # Each stage took SIGTERM and SIGINT as two requests: a graceful stop, then an abort that dropped
    # the queued frames. (A stage exits with 1 when the abort cut short a drain already under way,
    # which the pipeline reports; with 0 when the abort came first.)
    err = capfd.readouterr().err
    assert err.count("stopping gracefully (again to abort)") == 2 and err.count(": aborting") == 2, err
    summaries = [line.split() for line in err.splitlines() if line.split()[:1] == ["source"]]
    assert len(summaries) == 2
    assert len(results_of(first_written)) + len(results_of(second_written)) < sum(int(s[4]) for s in summaries)
    assert code in (0, 1)
    assert all(s["state"] == "ended" and s["signal"] is None for s in supervisor.stages)
    assert [e["reason"] for e in events if e["event"] == "stopping"] == ["stop() was called"]
    with pytest.raises(vstream.StateError, match="start"):
        vstream.Supervisor([first]).stop()


PROGRAM = """
import json, sys, threading, vstream
started = {}
both = threading.Event()
def on_event(event):
    if event["event"] == "started":
        started[event["config"]] = event["pid"]
        if len(started) == 2:
            both.set()
supervisor = vstream.Supervisor(sys.argv[1:], on_event=on_event)
supervisor.start()
both.wait()
print(json.dumps(list(started.values())), flush=True)
supervisor.wait()
"""


def test_stages_stop_on_their_own_when_the_supervisor_is_killed(tmp_path):
    # This process adopts orphans (a child subreaper), so it can see how the stages end once their
    # supervisor's process is gone.
    libc = ctypes.CDLL(None, use_errno=True)
    arguments = (ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
    assert libc.prctl(ctypes.c_int(36), *arguments) == 0  # PR_SET_CHILD_SUBREAPER
    (first, first_written), (second, second_written) = (endless_config(tmp_path, "a"), endless_config(tmp_path, "b"))
    program = subprocess.Popen([sys.executable, "-c", PROGRAM, first, second], stdout=subprocess.PIPE, text=True)
    pids = []
    try:
        pids = json.loads(program.stdout.readline())
        assert len(pids) == 2 and all(pid > 0 for pid in pids)
        poll(lambda: results_of(first_written) and results_of(second_written), "frames from both stages")
        program.kill()
        program.wait(timeout=DEADLINE)
        for pid in pids:  # each got SIGTERM from the kernel and stops gracefully
            deadline = time.monotonic() + DEADLINE
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done == pid:
                    break
                assert time.monotonic() < deadline, f"stage {pid} still runs without its supervisor"
                time.sleep(0.05)
            assert os.waitstatus_to_exitcode(status) == 0
        pids = []
    finally:
        for pid in pids:  # only when the test failed
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        program.kill()
        program.wait()


def test_arguments_and_states_are_checked(tmp_path):
    for kwargs, problem in (({"configs": "a.json"}, "a list of config files"),
                            ({"configs": []}, "configs is empty"),
                            ({"configs": ["a.json"], "restarts": -1}, "restarts must be"),
                            ({"configs": ["a.json"], "grace_period": "soon"}, "grace_period must be"),
                            ({"configs": ["a.json"], "overrides": "a.b=1"}, "not one string"),
                            ({"configs": ["a.json"], "overrides": {"b.json": []}}, "names 'b.json'")):
        with pytest.raises(vstream.ArgumentError, match=problem):
            vstream.Supervisor(**kwargs)
    supervisor = vstream.Supervisor([str(tmp_path / "missing.json")])
    with pytest.raises(vstream.StateError, match="start"):
        supervisor.wait()
    assert supervisor.stages[0]["state"] == "pending"
    supervisor.start()
    with pytest.raises(vstream.StateError, match="already started"):
        supervisor.start()
    assert supervisor.wait(timeout=DEADLINE) == 2  # the stage could not read its config


def test_a_stage_that_cannot_be_started_stops_the_others(tmp_path):
    endless, _ = endless_config(tmp_path, "endless")
    supervisor = vstream.Supervisor([endless], python=str(tmp_path / "no-such-python"))
    supervisor.start()
    assert supervisor.wait(timeout=DEADLINE) == 1
    assert supervisor.stages[0]["exit_code"] == 1 and supervisor.stages[0]["state"] == "ended"
