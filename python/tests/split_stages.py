"""Python stages for the tests of split pipelines (test_supervisor.py, test_cli.py), configured through
custom_params of their own (PyModule passes every key but pyclass_name to open())."""

import json
import os
import time


class Tagger:
    """Adds one object per frame: label from the `label` param, attributes from `attributes` (a JSON
    object in the config, so its JSON text here)."""

    def open(self, params):
        self.label = params["label"]
        self.attributes = json.loads(params.get("attributes", "{}"))

    def process(self, frame):
        import vstream

        frame.add_object(vstream.DetectedObject(label=self.label, label_id=1, score=0.5, box=(0.1, 0.1, 0.2, 0.2),
                                                attributes=self.attributes))


class Gate:
    """Passes the frames whose index is below `hold_from` at once; each later frame waits until the
    file `release` exists (for a test that kills the process while frames are held)."""

    def open(self, params):
        self.release = params["release"]
        self.hold_from = int(params["hold_from"])

    def process(self, frame):
        if frame.frame_index < self.hold_from:
            return
        deadline = time.monotonic() + 120
        while not os.path.exists(self.release):  # a condition polled with a deadline, not a timed wait
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.release} did not appear")
            time.sleep(0.02)


class Stalls:
    """Keeps every frame for `seconds` (a stage that makes a graceful stop take long)."""

    def open(self, params):
        self.seconds = float(params["seconds"])

    def process(self, frame):
        time.sleep(self.seconds)


class FailsAtEos:
    """Raises in on_eos: a module_error event."""

    def process(self, frame):
        pass

    def on_eos(self, stream_id):
        raise RuntimeError(f"cannot finish {stream_id}")
