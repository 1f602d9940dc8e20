"""Pipelines and processes: a forked child cannot use its parent's pipeline; a spawned one can run
its own."""

import multiprocessing
import os

import vstream
from conftest import synthetic_config


def test_forked_child_gets_a_clear_error(make_config):
    pipeline = vstream.Pipeline("parent")
    pipeline.build_from_string(make_config([("rec", "stages.Recorder", {})], streams=1, frames=0))
    pipeline.start()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what the calls did, then leave without running any cleanup
        code = 1
        try:
            os.close(read_end)
            outcomes = []
            for call in (lambda: pipeline.add_source("child", "synthetic://"),
                         lambda: pipeline.remove_source("stream_0"),
                         lambda: pipeline.stop()):
                try:
                    call()
                    outcomes.append("no error")
                except vstream.StateError as error:
                    outcomes.append("StateError: " + str(error))
            os.write(write_end, "\n".join(outcomes).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        report = reader.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    outcomes = report.split("\n")
    assert len(outcomes) == 3
    for outcome in outcomes:
        assert outcome.startswith("StateError: ") and "forked" in outcome
    # The parent's pipeline is unharmed.
    assert pipeline.running
    pipeline.remove_source("stream_0")
    assert pipeline.wait(timeout=60)
    pipeline.stop()


def run_in_child(config, queue):
    pipeline = vstream.Pipeline("child")
    pipeline.build_from_string(config)
    pipeline.start()
    pipeline.wait(timeout=60)
    pipeline.stop()
    queue.put(pipeline.module("rec")["instance"].frames)


def test_spawned_child_runs_its_own_pipeline(make_config):
    # A running pipeline in the parent, and a spawned child (a fresh interpreter) running another.
    parent = vstream.Pipeline("parent")
    parent.build_from_string(make_config([("rec", "stages.Recorder", {})], streams=1, frames=0))
    parent.start()
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=run_in_child,
                            args=(synthetic_config([("rec", "stages.Recorder", {})], streams=2, frames=5), queue))
    child.start()
    frames = queue.get(timeout=120)
    child.join(timeout=120)
    assert child.exitcode == 0
    assert sorted(frames) == sorted((f"stream_{s}", i) for s in range(2) for i in range(5))
    parent.stop(mode="abort")
