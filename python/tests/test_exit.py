"""A program that exits with pipelines still running (Python stages busy, an observer set) ends:
the package stops them at exit, before Python code stops running."""

import os
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent

PROGRAM = """
import sys, vstream
from conftest import synthetic_config
pipelines = []
for n in range(2):
    pipeline = vstream.Pipeline(f"p{n}")
    pipeline.build_from_string(synthetic_config([("rec", "stages.Recorder", {"parallelism": 2})], streams=3, frames=0))
    pipeline.set_observer(lambda event: None)
    pipeline.start()
    pipelines.append(pipeline)
print("started", flush=True)
sys.exit(int(sys.argv[1]))
"""


def test_exit_with_running_pipelines_ends():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([env.get("PYTHONPATH", ""), str(HERE)])
    for code in (0, 3):
        result = subprocess.run([sys.executable, "-c", PROGRAM, str(code)], env=env, capture_output=True, text=True,
                                timeout=120)
        assert result.stdout.strip() == "started"
        assert result.returncode == code, result.stderr
