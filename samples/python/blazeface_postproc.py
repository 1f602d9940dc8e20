"""BlazeFace's output decoded with numpy, as an Inferencer postprocessor written in Python.

MediaPipe's front-camera face detector (128x128 input) scores 896 anchors and regresses, for each,
a box and six keypoints. This class turns one image's outputs into vstream.DetectedObject faces:
anchor centres on a 16x16 grid (2 per cell) and an 8x8 grid (6 per cell), sigmoid scores, offsets
in input pixels, then weighted non-maximum suppression (overlapping candidates averaged by score),
as the built-in "blazeface" postprocessor does.

    "detect": { "class_name": "Inferencer",
                "custom_params": { "model_path": ".../face_detection_front_128x128_barracuda.onnx",
                                   "postproc_name": "python",
                                   "postproc_params": ["pyclass_name=blazeface_postproc.BlazeFacePostprocessor"],
                                   "resize": "letterbox", "scale": 0.0078431373, "mean": [1, 1, 1] } }

Parameters (postproc_params): `threshold` (the score a face needs when the Inferencer sets no
threshold of its own; default 0.75).
"""

import numpy as np

import vstream

# (cells per side, anchors per cell) of BlazeFace's two heads, in the order of their outputs.
_HEADS = ((16, 2), (8, 6))
_KEYPOINTS = 6  # right eye, left eye, nose, mouth, right ear, left ear


def _anchor_centres():
    """The 896 anchor centres (x, y), fractions of the input, in the model's anchor order."""
    centres = []
    for cells, per_cell in _HEADS:
        rows, columns = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        grid = np.stack([(columns.ravel() + 0.5) / cells, (rows.ravel() + 0.5) / cells], axis=1)
        centres.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def _iou(box, boxes):
    """IoU of one (x1, y1, x2, y2) box with each of `boxes`."""
    width = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    height = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = width * height
    area = np.clip(box[2] - box[0], 0, None) * np.clip(box[3] - box[1], 0, None)
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0)


class BlazeFacePostprocessor:
    def open(self, params):
        self.default_threshold = float(params.get("threshold", "0.75"))
        self.anchors = _anchor_centres()

    def _heads(self, outputs):
        """The scores (896,) and regressors (896, 16) of the two heads, found by their shapes."""
        scores, regressors = {}, {}
        for output in outputs:
            last = output.shape[-1] if output.ndim else 0
            if last not in (1, 16):
                continue
            anchors = output.size // last
            if anchors in (512, 384):
                (scores if last == 1 else regressors)[anchors] = output.reshape(anchors, last)
        if len(scores) != 2 or len(regressors) != 2:
            shapes = ", ".join(str(tuple(o.shape)) for o in outputs)
            raise ValueError(f"expected BlazeFace's outputs (512x1, 384x1, 512x16, 384x16), got {shapes}")
        return (np.concatenate([scores[512], scores[384]])[:, 0],
                np.concatenate([regressors[512], regressors[384]]))

    def process(self, outputs, context):
        logits, regressors = self._heads(outputs)
        threshold = context.threshold if context.threshold is not None else self.default_threshold
        # (in float64: exp(100) overflows float32)
        scores = (1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -100, 100)))).astype(np.float32)
        keep = np.nonzero(scores >= threshold)[0]
        if keep.size == 0:
            return []
        # Candidates by descending score (ties keep the anchor order).
        keep = keep[np.argsort(-scores[keep], kind="stable")]
        size = np.array([context.input_width, context.input_height], dtype=np.float32)
        centres = self.anchors[keep]
        values = regressors[keep]
        middle = values[:, 0:2] / size + centres
        half = values[:, 2:4] / size / 2
        corners = np.concatenate([middle - half, middle + half], axis=1)  # x1, y1, x2, y2 of the input
        points = values[:, 4:16].reshape(-1, _KEYPOINTS, 2) / size + centres[:, None, :]
        candidate_scores = scores[keep]

        faces = []
        used = np.zeros(len(keep), dtype=bool)
        label = context.labels[0] if context.labels else "face"
        for i in range(len(keep)):
            if used[i]:
                continue
            # Every unused candidate overlapping this one (itself included) is merged, weighted by score.
            group = np.nonzero(~used & (np.arange(len(keep)) >= i)
                               & (_iou(corners[i], corners) > context.nms_threshold))[0]
            used[group] = True
            weights = candidate_scores[group]
            box = (corners[group] * weights[:, None]).sum(axis=0) / weights.sum()
            keypoints = (points[group] * weights[:, None, None]).sum(axis=0) / weights.sum()
            x, y, w, h = context.to_region(*(box * np.tile(size, 2)))
            if w <= 0 or h <= 0:
                continue
            flat = []
            for px, py in keypoints * size:
                kx, ky, _, _ = context.to_region(px, py, px, py)
                flat += [kx, ky]
            faces.append(vstream.DetectedObject(label=label, label_id=0, score=float(candidate_scores[i]),
                                                box=(x, y, w, h), features={"keypoints": flat}))
        return faces
