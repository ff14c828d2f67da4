#!/usr/bin/python3
"""Serve a PyTorch model from its state_dict, saved with torch.save.

    /usr/bin/python3 torch_load.py /models/churn/production < rows.json

weights_only=True loads tensors only (no pickled code runs); the
architecture is the serving code's own. Prints the outputs per input row,
as JSON.
"""
import json
import sys

import torch


def architecture():
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


def load(model_dir):
    model = architecture()
    state = torch.load(f"{model_dir}/model.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()


def predict(model, rows):
    with torch.no_grad():
        return model(torch.tensor(rows, dtype=torch.float32)).tolist()


if __name__ == "__main__":
    print(json.dumps(predict(load(sys.argv[1]), json.load(sys.stdin))))
