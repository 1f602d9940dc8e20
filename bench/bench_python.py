#!/usr/bin/python3
"""What Python costs in a vstream pipeline, and vstream against the usual Python ways of doing the
same work. Every figure is measured in this invocation, next to its baseline; see bench/README.md.

    PYTHONPATH=build/python /usr/bin/python3 bench/bench_python.py [--frames 20000] [--runs 3]
        [--streams 4] [--video /usr/share/doc/opencv-doc/examples/data/Megamind.avi]
        [--vstream build/tools/vstream] [--only hop|faces]

hop:   frames without images through one module: a C++ PassThrough, then a PyModule whose
       process() does nothing; then 640x360 frames through that PyModule and through one that
       reads frame.image (a numpy view) and a pixel. The differences per frame are what a Python
       stage costs on top of a C++ one, and what the numpy view costs.
faces: Megamind.avi decoded --streams times, BlazeFace on every frame, faces counted:
       (a) Python multiprocessing as the founding notes do it: one decode process per stream
           (cv2.VideoCapture) putting numpy frames on a multiprocessing.Queue, one inference
           process (cv2.dnn + the numpy BlazeFace decoder);
       (b) one Python loop doing the same, stream after stream;
       (c) vstream driven from Python (DataSource -> Inferencer -> ResultSink, faces counted in
           its JSON Lines), and (c') the same with the Python BlazeFace postprocessor;
       (d) the C++ `vstream run` on the same config (a process of its own: its start is counted).
Every way is timed from its start (processes, model loading) to its last result.
Needs numpy, python3-opencv (cv2) for (a) and (b), the BlazeFace model (scripts/fetch_models.sh).
"""

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "samples", "python"))

import numpy as np  # noqa: E402

import vstream  # noqa: E402

MODEL = os.path.expanduser("~/.cache/vstream/models/blazeface/face_detection_front_128x128_barracuda.onnx")
INPUT = 128  # BlazeFace front: 128 x 128 RGB, pixels scaled to [-1, 1]


# --- hop: a Python stage next to a C++ one ------------------------------------------------------

class NoOp:
    def process(self, frame):
        return None


class ReadsImage:
    def process(self, frame):
        image = frame.image  # a view, no copy
        return None if image is None else int(image[0, 0, 0]) >= 0


def hop_config(stage, frames, width, height):
    config = {
        "source": {"class_name": "SyntheticSource", "next_modules": ["stage"],
                   "custom_params": {"streams": 1, "frames": frames, "width": width, "height": height}},
        "stage": {"class_name": stage, "max_input_queue_size": 20},
    }
    if "." in stage:
        config["stage"]["class_name"] = "PyModule"
        config["stage"]["custom_params"] = {"pyclass_name": stage}
    return json.dumps(config)


def time_pipeline(config, overrides=()):
    """Seconds from building the pipeline (the model loads when it starts) until it has stopped."""
    begin = time.perf_counter()
    pipeline = vstream.Pipeline("bench")
    pipeline.build_from_string(config, overrides=list(overrides), base_dir=ROOT)
    errors = []
    pipeline.set_observer(lambda e: errors.append(e) if e.type != "stream_eos" else None)
    pipeline.start()
    assert pipeline.wait(timeout=None)
    pipeline.stop()
    elapsed = time.perf_counter() - begin
    if errors:
        raise RuntimeError(f"pipeline reported {errors[0]}")
    return elapsed, pipeline


def bench_hop(frames, runs):
    print(f"hop: {frames} frames through one module, median of {runs} interleaved runs")
    cases = [("PassThrough", 0, 0), ("bench_python.NoOp", 0, 0),
             ("bench_python.NoOp", 640, 360), ("bench_python.ReadsImage", 640, 360)]
    times = {case: [] for case in cases}
    for _ in range(runs):
        for case in cases:
            times[case].append(time_pipeline(hop_config(case[0], frames, case[1], case[2]))[0])
    print(f"{'stage':<28} {'image':>9} {'frames/s':>10} {'us/frame':>9}")
    us = {}
    for case in cases:
        median = statistics.median(times[case])
        us[case] = median / frames * 1e6
        image = f"{case[1]}x{case[2]}" if case[1] else "none"
        print(f"{case[0]:<28} {image:>9} {frames / median:>10.0f} {us[case]:>9.2f}")
    print(f"PyModule (no-op) costs {us[cases[1]] - us[cases[0]]:.2f} us/frame more than PassThrough "
          f"({us[cases[1]] / us[cases[0]]:.2f}x); reading frame.image (a numpy view of a 640x360 frame) "
          f"costs {us[cases[3]] - us[cases[2]]:.2f} us/frame more than not reading it")


# --- faces: the same work four ways ----------------------------------------------------------------

class Letterbox:
    """The Inferencer's letterbox preprocessing for one frame size, and its inverse for boxes."""

    def __init__(self, width, height):
        self.scale = min(INPUT / width, INPUT / height)
        self.resized = (max(1, round(width * self.scale)), max(1, round(height * self.scale)))
        self.pad = ((INPUT - self.resized[0]) / 2, (INPUT - self.resized[1]) / 2)
        self.width, self.height = width, height

    def blob(self, cv2, bgr):
        canvas = np.zeros((INPUT, INPUT, 3), dtype=np.uint8)
        x, y = int(self.pad[0]), int(self.pad[1])
        canvas[y:y + self.resized[1], x:x + self.resized[0]] = cv2.resize(bgr, self.resized)
        rgb = canvas[:, :, ::-1].astype(np.float32) * 0.0078431373 - 1.0
        return np.ascontiguousarray(rgb[None])  # NHWC, as this model's input is

    def to_region(self, x1, y1, x2, y2):
        x1, x2 = [(v - self.pad[0]) / self.scale / self.width for v in (x1, x2)]
        y1, y2 = [(v - self.pad[1]) / self.scale / self.height for v in (y1, y2)]
        x1, y1, x2, y2 = [min(max(v, 0.0), 1.0) for v in (x1, y1, x2, y2)]
        return x1, y1, x2 - x1, y2 - y1


class Detector:
    """cv2.dnn with the BlazeFace model and the sample's numpy decoder: what a Python program would
    write without vstream."""

    def __init__(self, cv2):
        from blazeface_postproc import BlazeFacePostprocessor
        self.cv2 = cv2
        self.net = cv2.dnn.readNetFromONNX(MODEL)
        self.names = self.net.getUnconnectedOutLayersNames()
        self.decoder = BlazeFacePostprocessor()
        self.decoder.open({})
        self.letterbox = None

    def faces(self, bgr):
        height, width = bgr.shape[:2]
        if self.letterbox is None or (self.letterbox.width, self.letterbox.height) != (width, height):
            self.letterbox = Letterbox(width, height)
        self.net.setInput(self.letterbox.blob(self.cv2, bgr))
        outputs = [o[0] for o in self.net.forward(self.names)]  # batch item 0
        context = argparse.Namespace(input_width=INPUT, input_height=INPUT, threshold=None, nms_threshold=0.3,
                                     labels=[], to_region=self.letterbox.to_region)
        return len(self.decoder.process(outputs, context))


def decode_into(video, stream, queue):
    import cv2
    cv2.setNumThreads(1)
    capture = cv2.VideoCapture(video)
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        queue.put((stream, frame))
    queue.put((stream, None))


def infer_from(queue, streams, results):
    import cv2
    detector = Detector(cv2)
    frames = faces = ended = 0
    while ended < streams:
        stream, frame = queue.get()
        if frame is None:
            ended += 1
            continue
        frames += 1
        faces += detector.faces(frame)
    results.put((frames, faces))


def faces_multiprocessing(video, streams):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue(maxsize=8)
    results = context.Queue()
    begin = time.perf_counter()
    workers = [context.Process(target=decode_into, args=(video, i, queue)) for i in range(streams)]
    workers.append(context.Process(target=infer_from, args=(queue, streams, results)))
    for worker in workers:
        worker.start()
    while True:  # (a worker that died would leave this waiting forever)
        try:
            frames, faces = results.get(timeout=1)
            break
        except Exception:  # queue.Empty
            if workers[-1].exitcode is not None:
                raise RuntimeError(f"the inference process ended with code {workers[-1].exitcode}")
    for worker in workers:
        worker.join()
    return time.perf_counter() - begin, frames, faces


def faces_python_loop(video, streams):
    import cv2
    begin = time.perf_counter()
    detector = Detector(cv2)
    frames = faces = 0
    for _ in range(streams):
        capture = cv2.VideoCapture(video)
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames += 1
            faces += detector.faces(frame)
    return time.perf_counter() - begin, frames, faces


def faces_config(video, streams, results_path, python_postproc):
    detect = {"model_path": MODEL, "postproc_name": "blazeface", "resize": "letterbox",
              "scale": 0.0078431373, "mean": [1, 1, 1], "nms_threshold": 0.3, "batch_size": 4, "batching_timeout": 10}
    if python_postproc:
        detect["postproc_name"] = "python"
        detect["postproc_params"] = ["pyclass_name=blazeface_postproc.BlazeFacePostprocessor"]
    return json.dumps({
        "source": {"class_name": "DataSource", "next_modules": ["detect"],
                   "custom_params": {"inputs": [f"s{i}={video}" for i in range(streams)], "decoder_threads": 1}},
        "detect": {"class_name": "Inferencer", "parallelism": 2, "max_input_queue_size": 8,
                   "next_modules": ["results"], "custom_params": detect},
        "results": {"class_name": "ResultSink", "custom_params": {"path": results_path}},
    })


def count_results(path):
    frames = faces = 0
    with open(path) as lines:
        for line in lines:
            record = json.loads(line)
            if record.get("eos"):
                continue
            frames += 1
            faces += len(record.get("objects", []))
    return frames, faces


def faces_vstream(video, streams, folder, python_postproc):
    path = os.path.join(folder, f"python_{int(python_postproc)}.jsonl")
    elapsed, _ = time_pipeline(faces_config(video, streams, path, python_postproc))
    return (elapsed,) + count_results(path)


def faces_cli(video, streams, folder, tool):
    config = os.path.join(folder, "faces.json")
    path = os.path.join(folder, "cli.jsonl")
    with open(config, "w") as out:
        out.write(faces_config(video, streams, path, False))
    begin = time.perf_counter()
    run = subprocess.run([tool, "run", config], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"vstream run exited with {run.returncode}: {run.stderr[-2000:]}")
    return (time.perf_counter() - begin,) + count_results(path)


def bench_faces(video, streams, runs, tool):
    import cv2  # noqa: F401  (fails early with a clear message when python3-opencv is missing)
    print(f"faces: {os.path.basename(video)} x{streams} -> BlazeFace, median of {runs} runs")
    with tempfile.TemporaryDirectory() as folder:
        cases = [("(a) multiprocessing: decode processes -> Queue -> inference process",
                  lambda: faces_multiprocessing(video, streams)),
                 ("(b) one Python loop", lambda: faces_python_loop(video, streams)),
                 ("(c) vstream from Python", lambda: faces_vstream(video, streams, folder, False)),
                 ("(c') vstream from Python, Python postprocessor", lambda: faces_vstream(video, streams, folder, True))]
        if tool:
            cases.append(("(d) vstream run (C++)", lambda: faces_cli(video, streams, folder, tool)))
        results = {name: [] for name, _ in cases}
        for _ in range(runs):
            for name, run in cases:
                results[name].append(run())
    print(f"{'way':<70} {'frames':>7} {'faces':>7} {'seconds':>8} {'frames/s':>9}")
    rate = {}
    for name, _ in cases:
        elapsed = statistics.median(r[0] for r in results[name])
        frames, faces = results[name][-1][1], results[name][-1][2]
        rate[name] = frames / elapsed
        print(f"{name:<70} {frames:>7} {faces:>7} {elapsed:>8.2f} {rate[name]:>9.1f}")
    names = [name for name, _ in cases]
    print(f"(c) / (a) = {rate[names[2]] / rate[names[0]]:.2f}x; (c) / (b) = {rate[names[2]] / rate[names[1]]:.2f}x"
          + (f"; (c) / (d) = {rate[names[2]] / rate[names[4]]:.2f}" if tool else ""))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=20000, help="hop: frames per run")
    parser.add_argument("--runs", type=int, default=3, help="runs per case (the median is shown)")
    parser.add_argument("--streams", type=int, default=4, help="faces: copies of the video")
    parser.add_argument("--video", default="/usr/share/doc/opencv-doc/examples/data/Megamind.avi")
    parser.add_argument("--vstream", default=os.path.join(ROOT, "build", "tools", "vstream"),
                        help="faces: the vstream tool for (d); skipped when it does not exist")
    parser.add_argument("--only", choices=["hop", "faces"], help="run one part")
    args = parser.parse_args()
    if args.only in (None, "hop"):
        bench_hop(args.frames, args.runs)
    if args.only in (None, "faces"):
        if not os.path.exists(MODEL):
            sys.exit(f"bench_python.py: the BlazeFace model is missing ({MODEL}); run scripts/fetch_models.sh")
        bench_faces(args.video, args.streams, args.runs, args.vstream if os.path.exists(args.vstream) else None)


if __name__ == "__main__":
    main()
