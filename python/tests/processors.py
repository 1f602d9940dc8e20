"""Inferencer pre- and postprocessors for test_processors.py (pyclass_name "processors.<Class>"),
and a stage that records what the Inferencer found."""

import threading

import numpy as np

import vstream


class LetterboxPreprocessor:
    """vstream's built-in "image" preprocessing in numpy: resize (stretch or letterbox, bilinear with
    pixel centres aligned, as OpenCV's INTER_LINEAR), colour order, (pixel * scale - mean) / std and
    the model's layout, all read from the context."""

    calls = 0

    def process(self, image, context):
        LetterboxPreprocessor.calls += 1
        rows, columns = image.shape[:2]
        width, height = context.input_width, context.input_height
        if context.resize == "letterbox":  # (in float32 and rounding halves up, as the C++ code does)
            factor = min(np.float32(width) / np.float32(columns), np.float32(height) / np.float32(rows))
            inner_w = max(1, int(np.floor(np.float32(columns) * factor + np.float32(0.5))))
            inner_h = max(1, int(np.floor(np.float32(rows) * factor + np.float32(0.5))))
        else:
            inner_w, inner_h = width, height
        inner = resize_bilinear(image, inner_w, inner_h)
        pad_x, pad_y = (width - inner_w) // 2, (height - inner_h) // 2
        canvas = np.zeros((height, width, 3), dtype=np.uint8)
        canvas[pad_y:pad_y + inner_h, pad_x:pad_x + inner_w] = inner
        if context.channel_order == "rgb":
            canvas = canvas[:, :, ::-1]
        scale = np.float32(context.scale)
        mean = np.array(context.mean, dtype=np.float32)
        std = np.array(context.std, dtype=np.float32)
        values = (canvas.astype(np.float32) * scale - mean) / std
        if context.layout == "nchw":
            values = values.transpose(2, 0, 1)
        if context.resize == "letterbox":
            return np.ascontiguousarray(values), (factor, factor, pad_x, pad_y)
        return np.ascontiguousarray(values)


def resize_bilinear(image, width, height):
    """`image` (rows, columns, 3) resized to (height, width, 3) by bilinear interpolation."""
    rows, columns = image.shape[:2]
    if (rows, columns) == (height, width):
        return image.copy()

    def taps(size, source):
        position = (np.arange(size) + 0.5) * (source / size) - 0.5
        low = np.floor(position)
        weight = position - low
        low = low.astype(int)
        weight[low < 0] = 0
        low = np.clip(low, 0, source - 1)
        high = np.clip(low + 1, 0, source - 1)
        return low, high, weight.astype(np.float32)

    y0, y1, wy = taps(height, rows)
    x0, x1, wx = taps(width, columns)
    pixels = image.astype(np.float32)
    top = pixels[y0][:, x0] * (1 - wx)[None, :, None] + pixels[y0][:, x1] * wx[None, :, None]
    bottom = pixels[y1][:, x0] * (1 - wx)[None, :, None] + pixels[y1][:, x1] * wx[None, :, None]
    blended = top * (1 - wy)[:, None, None] + bottom * wy[:, None, None]
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


class ParamsProbe:
    """A postprocessor that keeps its params and what each context said, and finds one object."""

    instances = []
    lock = threading.Lock()

    def open(self, params):
        self.params = dict(params)
        self.contexts = []
        with ParamsProbe.lock:
            ParamsProbe.instances.append(self)

    def process(self, outputs, context):
        self.contexts.append({
            "shapes": [o.shape for o in outputs],
            "dtypes": [str(o.dtype) for o in outputs],
            "input": (context.input_width, context.input_height),
            "region": (context.region_width, context.region_height),
            "threshold": context.threshold,
            "nms_threshold": context.nms_threshold,
            "top_k": context.top_k,
            "labels": context.labels,
            "params": dict(context.params),
            "whole_input": context.to_region(0, 0, context.input_width, context.input_height),
        })
        return [vstream.DetectedObject(label=self.params.get("label", "probe"), score=0.5, box=(0.1, 0.2, 0.3, 0.4),
                                       attributes={"instance": str(id(self))})]


class ZeroPreprocessor:
    """A preprocessor that gives the model a blank input (and says how big it was)."""

    def open(self, params):
        self.fill = float(params.get("fill", "0"))

    def process(self, image, context):
        shape = (context.input_height, context.input_width, context.input_channels)
        return np.full(shape, self.fill, dtype=np.float32)


class FlakyPostprocessor:
    """Fails calls 1, 3, 5 and 7 (from 0) in different ways; finds one object on the others."""

    def open(self, params):
        self.calls = 0

    def process(self, outputs, context):
        call = self.calls
        self.calls += 1
        if call == 1:
            raise ValueError(f"boom on call {call}")
        if call == 3:
            return "not a list"
        if call == 5:
            return [vstream.DetectedObject(label="fine"), 42]
        if call == 7:
            return {"label": "a dict"}
        return [vstream.DetectedObject(label="fine", score=1.0, box=(0.0, 0.0, 0.5, 0.5))]


class FlakyPreprocessor:
    """Fails calls 1 to 5 (from 0) in different ways; a blank input on the others."""

    def open(self, params):
        self.calls = 0

    def process(self, image, context):
        call = self.calls
        self.calls += 1
        good = np.zeros(context.input_width * context.input_height * context.input_channels, dtype=np.float32)
        if call == 1:
            raise KeyError("missing")
        if call == 2:
            return good[:-1]
        if call == 3:
            return good.tolist()
        if call == 4:
            return good, (0.0, 1.0, 0.0, 0.0)
        if call == 5:
            return np.array(["x"] * good.size)
        return good


class BrokenOpen:
    def open(self, params):
        raise RuntimeError("cannot load " + params.get("table", "?"))

    def process(self, outputs, context):
        return []


class NoProcess:
    pass


class ObjectRecorder:
    """A PyModule stage: keeps every frame's objects by (stream_id, frame_index)."""

    def open(self, params):
        self.objects = {}
        self.sizes = {}

    def process(self, frame):
        key = (frame.stream_id, frame.frame_index)
        self.objects[key] = [(o.label, o.score, o.box, dict(o.features), dict(o.attributes)) for o in frame.objects]
        self.sizes[key] = (frame.width, frame.height)
