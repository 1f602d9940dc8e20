"""PyModule in a C++ host: the vstream tool runs a config with a Python stage through the host
plugin, which embeds the interpreter."""

import pytest

from conftest import TOOL, run_tool_with_host


@pytest.mark.skipif(not TOOL, reason="VSTREAM_CLI (the vstream tool) is not set")
def test_vstream_run_with_a_python_stage(tmp_path):
    output = tmp_path / "seen.txt"
    config = {
        "source": {"class_name": "SyntheticSource", "next_modules": ["py"],
                   "custom_params": {"streams": 2, "frames": 15, "width": 16, "height": 8}},
        "py": {"class_name": "cnstream::PyModule", "parallelism": 2, "next_modules": ["pass"],
               # CNStream's spelling: the class's parameters are custom_params keys of their own.
               "custom_params": {"pyclass_name": "host_stage.FileRecorder", "output": str(output)}},
        "pass": {"class_name": "PassThrough"},
    }
    result = run_tool_with_host(config, tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = output.read_text().split()
    for stream in ("stream_0", "stream_1"):
        assert [int(l.split(":")[1]) for l in lines if l.split(":")[0] == stream] == list(range(15))
    assert sorted(l for l in lines if l.startswith("eos:")) == ["eos:stream_0", "eos:stream_1"]


@pytest.mark.skipif(not TOOL, reason="VSTREAM_CLI (the vstream tool) is not set")
def test_vstream_run_without_the_package_says_what_to_do(tmp_path):
    config = {
        "source": {"class_name": "SyntheticSource", "next_modules": ["py"], "custom_params": {"streams": 1}},
        "py": {"class_name": "PyModule", "custom_params": {"pyclass_name": "host_stage.FileRecorder"}},
    }
    result = run_tool_with_host(config, tmp_path, with_package=False, timeout=120)
    assert result.returncode != 0
    assert "cannot import the vstream Python package" in result.stderr + result.stdout
    assert "PYTHONPATH" in result.stderr + result.stdout
