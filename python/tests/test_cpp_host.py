"""PyModule in a C++ host: the vstream tool runs a config with a Python stage through the host
plugin, which embeds the interpreter."""

import json
import os
import pathlib
import subprocess

import pytest

HERE = pathlib.Path(__file__).resolve().parent
TOOL = os.environ.get("VSTREAM_CLI", "")


@pytest.mark.skipif(not TOOL, reason="VSTREAM_CLI (the vstream tool) is not set")
def test_vstream_run_with_a_python_stage(tmp_path):
    import vstream

    package = pathlib.Path(vstream.__file__).resolve().parent
    output = tmp_path / "seen.txt"
    config = {
        "source": {"class_name": "SyntheticSource", "next_modules": ["py"],
                   "custom_params": {"streams": 2, "frames": 15, "width": 16, "height": 8}},
        "py": {"class_name": "cnstream::PyModule", "parallelism": 2, "next_modules": ["pass"],
               # CNStream's spelling: the class's parameters are custom_params keys of their own.
               "custom_params": {"pyclass_name": "host_stage.FileRecorder", "output": str(output)}},
        "pass": {"class_name": "PassThrough"},
    }
    (tmp_path / "pipeline.json").write_text(json.dumps(config))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(package.parent), str(HERE)])
    env["VSTREAM_PLUGIN_PATH"] = str(package / "libvstream_python_host.so")
    result = subprocess.run([TOOL, "run", str(tmp_path / "pipeline.json")], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = output.read_text().split()
    for stream in ("stream_0", "stream_1"):
        assert [int(l.split(":")[1]) for l in lines if l.split(":")[0] == stream] == list(range(15))
    assert sorted(l for l in lines if l.startswith("eos:")) == ["eos:stream_0", "eos:stream_1"]


@pytest.mark.skipif(not TOOL, reason="VSTREAM_CLI (the vstream tool) is not set")
def test_vstream_run_without_the_package_says_what_to_do(tmp_path):
    import vstream

    package = pathlib.Path(vstream.__file__).resolve().parent
    config = {
        "source": {"class_name": "SyntheticSource", "next_modules": ["py"], "custom_params": {"streams": 1}},
        "py": {"class_name": "PyModule", "custom_params": {"pyclass_name": "host_stage.FileRecorder"}},
    }
    (tmp_path / "pipeline.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["VSTREAM_PLUGIN_PATH"] = str(package / "libvstream_python_host.so")
    result = subprocess.run([TOOL, "run", str(tmp_path / "pipeline.json")], env=env, capture_output=True,
                            text=True, timeout=120, cwd=tmp_path)
    assert result.returncode != 0
    assert "cannot import the vstream Python package" in result.stderr + result.stdout
    assert "PYTHONPATH" in result.stderr + result.stdout
