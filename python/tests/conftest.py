"""Shared helpers for the vstream Python tests."""

import json
import os
import pathlib
import subprocess

import pytest

HERE = pathlib.Path(__file__).resolve().parent
TOOL = os.environ.get("VSTREAM_CLI", "")  # the vstream tool, when the build has it


def run_tool_with_host(config, tmp_path, with_package=True, timeout=180):
    """Writes `config` (a dict) to tmp_path and runs `vstream run` on it with the Python host plugin:
    with the package and this folder on PYTHONPATH, or (with_package=False) without PYTHONPATH, in
    tmp_path. Returns the CompletedProcess (text output)."""
    import vstream

    package = pathlib.Path(vstream.__file__).resolve().parent
    (tmp_path / "pipeline.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if with_package:
        env["PYTHONPATH"] = os.pathsep.join([str(package.parent), str(HERE)])
    env["VSTREAM_PLUGIN_PATH"] = str(package / "libvstream_python_host.so")
    return subprocess.run([TOOL, "run", str(tmp_path / "pipeline.json")], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=tmp_path)


def synthetic_config(stages, streams=2, frames=10, width=32, height=24, pixel_format="bgr24"):
    """A config: SyntheticSource, then `stages` in a chain. Each stage is (name, class_path or
    C++ class name, extra module settings)."""
    config = {
        "source": {
            "class_name": "SyntheticSource",
            "next_modules": [stages[0][0]] if stages else [],
            "custom_params": {"streams": streams, "frames": frames, "width": width, "height": height,
                              "pixel_format": pixel_format},
        }
    }
    for i, (name, cls, extra) in enumerate(stages):
        module = {"class_name": cls, "next_modules": [stages[i + 1][0]] if i + 1 < len(stages) else []}
        if "." in cls:
            module["class_name"] = "PyModule"
            module["custom_params"] = {"pyclass_name": cls}
        extra = dict(extra)
        params = extra.pop("custom_params", {})
        if params:
            module.setdefault("custom_params", {}).update(params)
        module.update(extra)
        config[name] = module
    return json.dumps(config)


@pytest.fixture
def make_config():
    return synthetic_config
