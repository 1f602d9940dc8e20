"""PyModule's parameters: every custom_params key but pyclass_name reaches the class's open(params) as
a string (arrays and objects as their JSON text), as CNStream's PyModule does; pyclass_params items
still work; the same key given both ways is an error; other classes still reject unknown keys."""

import json

import pytest

import vstream
from conftest import synthetic_config


def opened_params(params, class_name="PyModule", overrides=()):
    config = json.loads(synthetic_config([("rec", "stages.Recorder", {})], streams=1, frames=1))
    config["rec"]["class_name"] = class_name
    config["rec"]["custom_params"].update(params)
    pipeline = vstream.Pipeline()
    pipeline.build_from_string(json.dumps(config), overrides=list(overrides))
    pipeline.start()
    assert pipeline.wait(timeout=60)
    pipeline.stop()
    return pipeline.module("rec")["instance"].params


def test_every_other_key_reaches_open_as_a_string():
    params = opened_params({"label": "face", "threshold": 0.25, "count": 3, "enabled": True,
                            "sizes": [1, "two", 3.5], "window": {"w": 3, "names": ["a", "b"]},
                            "rows": [[1, 2], [3]]})
    assert params == {"label": "face", "threshold": "0.25", "count": "3", "enabled": "true",
                      "sizes": '[1,"two",3.5]', "window": '{"names":["a","b"],"w":3}', "rows": "[[1,2],[3]]"}
    assert json.loads(params["window"]) == {"w": 3, "names": ["a", "b"]}


def test_pyclass_params_items_join_them_and_a_key_given_twice_is_an_error():
    params = opened_params({"label": "face", "pyclass_params": ["min_width=0.05", "note=a=b"]})
    assert params == {"label": "face", "min_width": "0.05", "note": "a=b"}
    with pytest.raises(vstream.Error, match=r"'label' is given twice, as custom_params.label and in "
                                                  r"pyclass_params \('label=car'\); keep one of them"):
        opened_params({"label": "face", "pyclass_params": ["label=car"]})


def test_overrides_and_cnstream_spellings_reach_open():
    params = opened_params({"label": "face"}, class_name="cnstream::PyModule", overrides=["rec.label=car",
                                                                                         "rec.extra=1"])
    assert params == {"label": "car", "extra": "1"}


def test_declared_keys_keep_their_checks_and_other_classes_reject_unknown_keys(make_config):
    pipeline = vstream.Pipeline()
    with pytest.raises(vstream.ConfigError, match="custom_params.pyclass_name must be a string, number, boolean or "
                                                  "array of those"):
        pipeline.build_from_string(make_config([("rec", "stages.Recorder", {"custom_params": {
            "pyclass_name": {"module": "stages"}}})]))
    with pytest.raises(vstream.ConfigError, match=r"module 'pass': unknown parameter 'label'"):
        pipeline.build_from_string(make_config([("pass", "PassThrough", {"custom_params": {"label": "face"}})]))


def test_inspect_says_which_classes_take_other_keys():
    assert "open(params)" in vstream.inspect("PyModule")["other_params"]
    assert vstream.inspect("PassThrough")["other_params"] == ""
