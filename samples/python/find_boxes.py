#!/usr/bin/python3
"""A pipeline with two Python stages: one finds bright boxes in the pixels with numpy, the next
counts them per stream and drops the small ones; ResultSink writes what is left as JSON Lines.

    PYTHONPATH=build/python /usr/bin/python3 samples/python/find_boxes.py [--frames 50] [--output boxes.jsonl]

The stages are ordinary classes (see docs/python.md, "Python stages"); the config names them by
module path, so this file's folder must be importable (it is: Python puts a script's folder on
sys.path).
"""

import argparse
import json
import threading

import numpy as np

import vstream


class BrightBoxFinder:
    """Adds one object for the bright region of each frame (pixels above `threshold`)."""

    def open(self, params):
        self.threshold = int(params.get("threshold", "200"))

    def process(self, frame):
        image = frame.image  # a view of the frame's pixels: nothing is copied
        luma = image if image.ndim == 2 else image[:, :, 1]
        ys, xs = np.nonzero(luma > self.threshold)
        if len(xs) == 0:
            return
        x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
        frame.add_object(vstream.DetectedObject(
            label="box", label_id=0, score=1.0,
            box=(x0 / frame.width, y0 / frame.height, (x1 - x0) / frame.width, (y1 - y0) / frame.height)))


class ObjectCounter:
    """Counts objects per stream and keeps only those at least `min_width` (a fraction) wide."""

    def open(self, params):
        self.min_width = float(params.get("min_width", "0"))
        self.lock = threading.Lock()  # parallelism > 1 runs process() from several threads
        self.counts = {}
        self.frames = 0
        self.finished = []

    def process(self, frame):
        kept = [o for o in frame.objects if o.box[2] >= self.min_width]
        frame.objects = kept  # written back under the frame's lock
        with self.lock:
            self.frames += 1
            self.counts[frame.stream_id] = self.counts.get(frame.stream_id, 0) + len(kept)

    def on_eos(self, stream_id):
        with self.lock:
            self.finished.append(stream_id)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50, help="frames per stream")
    parser.add_argument("--streams", type=int, default=2)
    parser.add_argument("--output", default="-", help="JSON Lines file ('-': standard output)")
    args = parser.parse_args()

    config = {
        "source": {"class_name": "SyntheticSource", "next_modules": ["find"],
                   "custom_params": {"streams": args.streams, "frames": args.frames, "width": 160, "height": 90,
                                     "pixel_format": "gray8", "pattern": "moving_box"}},
        "find": {"class_name": "PyModule", "parallelism": 2, "next_modules": ["count"],
                 "custom_params": {"pyclass_name": "find_boxes.BrightBoxFinder", "pyclass_params": ["threshold=200"]}},
        "count": {"class_name": "PyModule", "next_modules": ["sink"],
                  "custom_params": {"pyclass_name": "find_boxes.ObjectCounter", "pyclass_params": ["min_width=0.05"]}},
        "sink": {"class_name": "ResultSink", "custom_params": {"path": args.output}},
    }
    pipeline = vstream.Pipeline("find_boxes")
    pipeline.build_from_string(json.dumps(config))
    pipeline.set_observer(lambda event: event.type != "stream_eos" and print("event:", event))
    pipeline.start()
    pipeline.wait()
    pipeline.stop()

    counter = pipeline.module("count")["instance"]
    print(f"found {sum(counter.counts.values())} boxes in {counter.frames} frames; per stream: "
          + ", ".join(f"{s} {n}" for s, n in sorted(counter.counts.items())))


if __name__ == "__main__":
    main()
