"""Shared helpers for the vstream Python tests."""

import json

import pytest


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
