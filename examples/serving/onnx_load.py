#!/usr/bin/python3
"""Load and check an ONNX model, and read its weights.

    /usr/bin/python3 onnx_load.py /models/churn/production

onnx.load reads the file through the mount and onnx.checker validates it.
Debian bookworm packages the onnx library (python3-onnx 1.12) but no
runtime to execute a graph (no onnxruntime, and onnx's own reference
evaluator came in 1.13): where onnxruntime is installed,
onnxruntime.InferenceSession(path) runs the same file. Prints the graph's
inputs, outputs and initializers (name -> shape and values), as JSON.
"""
import json
import sys

import onnx
from onnx import numpy_helper


def load(model_dir):
    model = onnx.load(f"{model_dir}/model.onnx")
    onnx.checker.check_model(model)
    return model


def describe(model):
    g = model.graph
    return {
        "inputs": [i.name for i in g.input],
        "outputs": [o.name for o in g.output],
        "initializers": {t.name: numpy_helper.to_array(t).tolist() for t in g.initializer},
    }


if __name__ == "__main__":
    print(json.dumps(describe(load(sys.argv[1]))))
