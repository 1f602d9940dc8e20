"""vstream: video analytics pipelines, from Python.

The C++ library's pipelines (JSON graphs of modules on bounded queues) driven from Python, and
Python classes run as pipeline stages (PyModule). See docs/python.md.

    import vstream
    pipeline = vstream.Pipeline()
    pipeline.build_from_file("configs/synthetic.json")
    pipeline.set_observer(lambda event: print(event))
    pipeline.start()
    pipeline.wait()
    pipeline.stop()

The parts of a pipeline split with ModuleIPC run as processes under a Supervisor (vstream.supervisor),
each one `python -m vstream run CONFIG` (vstream.cli).
"""

from ._vstream import (  # noqa: F401  (the package's API)
    ArgumentError,
    ConfigError,
    DetectedObject,
    Error,
    Event,
    Frame,
    FrameData,
    NotFoundError,
    Pipeline,
    StateError,
    UnavailableError,
    __version__,
    inspect,
    module_classes,
)
from .supervisor import Supervisor  # noqa: F401  (after the extension: it uses its errors)

__all__ = [
    "ArgumentError",
    "ConfigError",
    "DetectedObject",
    "Error",
    "Event",
    "Frame",
    "FrameData",
    "NotFoundError",
    "Pipeline",
    "StateError",
    "Supervisor",
    "UnavailableError",
    "__version__",
    "inspect",
    "module_classes",
]
