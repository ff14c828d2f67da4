#!/usr/bin/python3
"""Serve a linear model whose weights are .npy files, memory-mapped.

    /usr/bin/python3 numpy_mmap.py /models/churn/production < rows.json

np.load(mmap_mode="r") maps the file: pages come from the mount's page
cache on demand, shared by every process serving the same version.
Prints one list of scores per input row, as JSON.
"""
import json
import sys

import numpy as np


def load(model_dir):
    weights = np.load(f"{model_dir}/weights.npy", mmap_mode="r")  # (features, outputs)
    bias = np.load(f"{model_dir}/bias.npy", mmap_mode="r")  # (outputs,)
    return weights, bias


def predict(model, rows):
    weights, bias = model
    return (np.asarray(rows, dtype=weights.dtype) @ weights + bias).tolist()


if __name__ == "__main__":
    print(json.dumps(predict(load(sys.argv[1]), json.load(sys.stdin))))
