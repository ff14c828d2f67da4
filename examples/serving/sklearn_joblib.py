#!/usr/bin/python3
"""Serve a scikit-learn model saved with joblib.dump.

    /usr/bin/python3 sklearn_joblib.py /models/churn/production < rows.json

joblib.load(mmap_mode="r") maps the model's large numpy arrays straight
from the mount instead of copying them. Prints, per input row, the
predicted class and its probabilities, as JSON.
"""
import json
import sys

import joblib


def load(model_dir):
    return joblib.load(f"{model_dir}/model.joblib", mmap_mode="r")


def predict(model, rows):
    return {"labels": model.predict(rows).tolist(), "proba": model.predict_proba(rows).tolist()}


if __name__ == "__main__":
    print(json.dumps(predict(load(sys.argv[1]), json.load(sys.stdin))))
