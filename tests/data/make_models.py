#!/usr/bin/python3
"""Builds small ONNX models for the Inferencer tests (Debian's python3-onnx; no download).

colour_classifier.onnx: input "image" [N, 3, 16, 16] (dynamic batch), output "scores" [N, 3]:
the mean of each input channel, times 10. With RGB input and labels red/green/blue, the top class
is the image's dominant colour, so a test knows the right answer for any picture.

Usage: make_models.py OUTPUT_DIR
"""
import os
import sys

import onnx
from onnx import TensorProto, helper


def colour_classifier(path):
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 16, 16])
    scores = helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 3])
    ten = helper.make_tensor("ten", TensorProto.FLOAT, [1], [10.0])
    nodes = [
        helper.make_node("GlobalAveragePool", ["image"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("Mul", ["flat", "ten"], ["scores"]),
    ]
    graph = helper.make_graph(nodes, "colour_classifier", [image], [scores], initializer=[ten])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, path)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    colour_classifier(os.path.join(out, "colour_classifier.onnx"))
    with open(os.path.join(out, "colours.txt"), "w") as f:
        f.write("red\ngreen\nblue\n")


if __name__ == "__main__":
    main()
