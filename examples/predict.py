#!/usr/bin/env python3
"""Predicts with an anweddol-server FL global model (one round's safetensors file) on a CSV, using numpy alone.

Usage: python3 examples/predict.py MODEL.safetensors DATA.csv[.gz] [--predictions]

DATA.csv: numeric features in the training's column order, optionally the integer label last (then the
accuracy is printed), header row optional. With --predictions, one predicted class per row is printed.

The safetensors format is parsed by hand: an 8-byte little-endian header length N, N bytes of JSON
({"tensor": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}), then the raw
little-endian tensor bytes, offsets relative to the end of the header.
"""
import gzip
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": "<f4", "F64": "<f8", "I32": "<i4", "I64": "<i8"}


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    metadata = header.pop("__metadata__", {})
    data = raw[8 + header_len :]
    tensors = {}
    for name, t in header.items():
        begin, end = t["data_offsets"]
        tensors[name] = np.frombuffer(data[begin:end], dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
    return tensors, metadata


def load_csv(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        rows = [line.strip().split(",") for line in f if line.strip()]

    def numeric(cell):
        try:
            float(cell)
            return True
        except ValueError:
            return False

    if rows and not all(numeric(c) for c in rows[0]):
        rows = rows[1:]  # a header row
    return np.array(rows, dtype=np.float64)


def predict(tensors, metadata, x):
    if metadata.get("format") != "anweddol-fl/1":
        sys.exit(f"not an anweddol-fl/1 model (format {metadata.get('format')!r})")
    # input.scale is a MULTIPLIER (1 / standard deviation), not a divisor: z = (x - mean) * scale.
    # The float32 rounding of z mirrors the coordinator's evaluation, so both count the same rows as right.
    z = ((x - tensors["input.mean"].astype(np.float64)) * tensors["input.scale"].astype(np.float64)).astype(np.float32).astype(np.float64)
    w = lambda name: tensors[name].astype(np.float64)
    if metadata["kind"] == "logreg":
        logits = z @ w("weight").T + w("bias")
    elif metadata["kind"] == "mlp":
        hidden = np.maximum(0.0, z @ w("hidden.weight").T + w("hidden.bias"))
        logits = hidden @ w("output.weight").T + w("output.bias")
    else:
        sys.exit(f"unknown model kind {metadata['kind']!r}")
    return np.argmax(logits, axis=1)  # the first class on ties, as the coordinator


def main(argv):
    if len(argv) < 3 or len(argv) > 4 or (len(argv) == 4 and argv[3] != "--predictions"):
        sys.exit(__doc__.strip().splitlines()[2])
    tensors, metadata = load_safetensors(argv[1])
    data = load_csv(argv[2])
    inputs = int(metadata["inputs"])
    if data.shape[1] not in (inputs, inputs + 1):
        sys.exit(f"the CSV has {data.shape[1]} columns, the model takes {inputs} features (plus an optional label)")
    x = data[:, :inputs]
    predicted = predict(tensors, metadata, x)
    if "--predictions" in argv:
        print("\n".join(str(int(p)) for p in predicted))
    if data.shape[1] == inputs + 1:
        labels = data[:, inputs].astype(np.int64)
        correct = int((predicted == labels).sum())
        print(f"accuracy {correct / len(labels):.6f} ({correct} of {len(labels)} rows)")


if __name__ == "__main__":
    main(sys.argv)
