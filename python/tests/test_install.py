"""`cmake --install` puts the package where the interpreter finds it under the prefix, and the
installed extension finds libvstream through its RPATH, wherever the prefix is moved."""

import os
import pathlib
import subprocess
import sys

import pytest

BUILD = os.environ.get("VSTREAM_BUILD_DIR", "")
PACKAGE_DIR = os.environ.get("VSTREAM_PYTHON_INSTALL_DIR", "")
CMAKE = os.environ.get("CMAKE_COMMAND", "cmake")

PROGRAM = """
import pathlib, sys, vstream
assert pathlib.Path(vstream.__file__).resolve().is_relative_to(pathlib.Path(sys.argv[1]).resolve()), vstream.__file__
pipeline = vstream.Pipeline()
pipeline.build_from_string('{"source": {"class_name": "SyntheticSource", "next_modules": ["pass"],'
                           ' "custom_params": {"streams": 1, "frames": 3}}, "pass": {"class_name": "PassThrough"}}')
pipeline.start()
assert pipeline.wait(timeout=60)
pipeline.stop()
print("frames", pipeline.stats()["streams"][0]["frames"])
"""


@pytest.mark.skipif(not BUILD or os.path.isabs(PACKAGE_DIR), reason="needs the build tree and a relative install dir")
def test_installed_package_imports_from_a_moved_prefix(tmp_path):
    prefix = tmp_path / "prefix"
    subprocess.run([CMAKE, "--install", BUILD, "--prefix", str(prefix)], check=True, capture_output=True,
                   timeout=300)
    moved = tmp_path / "moved"
    prefix.rename(moved)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LD_LIBRARY_PATH")}
    env["PYTHONPATH"] = str(moved / PACKAGE_DIR)
    result = subprocess.run([sys.executable, "-c", PROGRAM, str(moved)], env=env, capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "frames 3"
    assert (moved / PACKAGE_DIR / "vstream" / "__init__.py").exists()
    assert (moved / PACKAGE_DIR / "vstream" / "libvstream_python_host.so").exists()
    # The package's pure-Python modules came along: `python -m vstream run` works from there.
    config = tmp_path / "pipeline.json"
    config.write_text('{"source": {"class_name": "SyntheticSource", "custom_params": {"streams": 1, "frames": 3}}}')
    result = subprocess.run([sys.executable, "-m", "vstream", "run", str(config)], env=env, capture_output=True,
                            text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
