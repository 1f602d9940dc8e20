#!/usr/bin/python3
"""Face detection from Python, end to end: decode a video (several copies as streams), find faces
with BlazeFace, track them, pixelate them with numpy in a Python stage, and write each stream as an
mp4 and every frame's faces as JSON Lines.

    PYTHONPATH=build/python /usr/bin/python3 samples/python/face_detection.py [--streams 2] [--python-postproc]

DataSource -> Inferencer (BlazeFace) -> Tracker -> FacePixelator (Python) -> Encoder (mp4)
                                                \\-> ResultSink (JSON Lines)

The model comes from scripts/fetch_models.sh (its cache, ~/.cache/vstream or $VSTREAM_CACHE), the
video from Debian's opencv-doc. --python-postproc decodes the model's output with
blazeface_postproc.py (numpy) instead of the built-in C++ postprocessor; the faces are the same.
"""

import argparse
import json
import os
import pathlib
import sys
import threading

import numpy as np

import vstream

MEGAMIND = "/usr/share/doc/opencv-doc/examples/data/Megamind.avi"


def default_model():
    cache = pathlib.Path(os.environ.get("VSTREAM_CACHE") or pathlib.Path.home() / ".cache" / "vstream")
    return cache / "models" / "blazeface" / "face_detection_front_128x128_barracuda.onnx"


class FacePixelator:
    """Pixelates every face box in the frame's own pixels (blocks of `block` pixels), and counts
    frames, faces and tracks per stream."""

    writes_pixels = True  # frame.image is writable in process()

    def open(self, params):
        self.block = int(params.get("block", "10"))
        self.lock = threading.Lock()  # (parallelism > 1 would run process() from several threads)
        self.frames = {}
        self.faces = {}
        self.tracks = {}

    def process(self, frame):
        image = frame.image
        height, width = image.shape[:2]
        faces = frame.objects
        for face in faces:
            x, y, w, h = face.box
            x0, y0 = max(0, int(x * width)), max(0, int(y * height))
            x1, y1 = min(width, int(np.ceil((x + w) * width))), min(height, int(np.ceil((y + h) * height)))
            if x1 <= x0 or y1 <= y0:
                continue
            region = image[y0:y1, x0:x1]
            # The top-left pixel of each block spread over the block: a mosaic of the face.
            coarse = region[::self.block, ::self.block]
            mosaic = np.repeat(np.repeat(coarse, self.block, axis=0), self.block, axis=1)
            region[:] = mosaic[:y1 - y0, :x1 - x0]
        with self.lock:
            stream = frame.stream_id
            self.frames[stream] = self.frames.get(stream, 0) + 1
            self.faces[stream] = self.faces.get(stream, 0) + len(faces)
            self.tracks.setdefault(stream, set()).update(f.track_id for f in faces if f.track_id >= 0)


def build_config(args, output):
    inputs = [f"stream_{i}={args.input}" for i in range(args.streams)]
    detect = {"model_path": str(args.model), "postproc_name": "blazeface", "resize": "letterbox",
              "scale": 0.0078431373, "mean": [1, 1, 1], "batch_size": 4, "batching_timeout": 10}
    if args.python_postproc:
        detect["postproc_name"] = "python"
        detect["postproc_params"] = ["pyclass_name=blazeface_postproc.BlazeFacePostprocessor"]
    return {
        "source": {"class_name": "DataSource", "next_modules": ["detect"],
                   "custom_params": {"inputs": inputs, "decoder_threads": 1}},
        "detect": {"class_name": "Inferencer", "next_modules": ["track"], "custom_params": detect},
        "track": {"class_name": "Tracker", "next_modules": ["pixelate", "results"]},
        "pixelate": {"class_name": "PyModule", "next_modules": ["encode"],
                     "custom_params": {"pyclass_name": "face_detection.FacePixelator",
                                       "pyclass_params": [f"block={args.block}"]}},
        "encode": {"class_name": "Encoder", "custom_params": {"path": str(output / "{stream}.mp4")}},
        "results": {"class_name": "ResultSink", "custom_params": {"path": str(output / "faces.jsonl")}},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default=MEGAMIND, help="the video every stream decodes (default: %(default)s)")
    parser.add_argument("--streams", type=int, default=2, help="copies of the video decoded at once")
    parser.add_argument("--model", type=pathlib.Path, default=default_model(), help="BlazeFace's ONNX file")
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path("face_detection_output"),
                        help="folder for the mp4 files and faces.jsonl (default: %(default)s)")
    parser.add_argument("--block", type=int, default=10, help="mosaic block size in pixels")
    parser.add_argument("--python-postproc", action="store_true",
                        help="decode BlazeFace's output in Python (blazeface_postproc.py) instead of C++")
    args = parser.parse_args()
    if not args.model.exists():
        sys.exit(f"face_detection: {args.model} is missing: run scripts/fetch_models.sh (or give --model)")
    if not pathlib.Path(args.input).exists():
        sys.exit(f"face_detection: {args.input} is missing: install opencv-doc (scripts/deps.sh) or give --input")
    if args.streams < 1 or args.block < 1:
        sys.exit("face_detection: --streams and --block must be at least 1")
    output = args.output.resolve()
    output.mkdir(parents=True, exist_ok=True)

    pipeline = vstream.Pipeline("face_detection")
    pipeline.build_from_string(json.dumps(build_config(args, output)))
    failures = []
    pipeline.set_observer(lambda event: event.type not in ("stream_eos",) and failures.append(event))
    with pipeline:
        pipeline.start()
        pipeline.wait()

    for event in failures:
        print(f"event: {event.type} {event.module} {event.stream_id} {event.message}", file=sys.stderr)
    pixelator = pipeline.module("pixelate")["instance"]
    decoder = "Python (blazeface_postproc.py)" if args.python_postproc else "C++ (blazeface)"
    print(f"BlazeFace with the {decoder} postprocessor on {args.input}:")
    for stream in sorted(pixelator.frames):
        print(f"  {stream}: {pixelator.frames[stream]} frames, {pixelator.faces[stream]} faces, "
              f"{len(pixelator.tracks[stream])} tracks -> {output / (stream + '.mp4')}")
    print(f"every frame's faces: {output / 'faces.jsonl'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
