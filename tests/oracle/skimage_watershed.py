#!/usr/bin/env python3
"""Oracle for cellcam's watershed tests: runs skimage.segmentation.watershed on raw inputs.

Usage: skimage_watershed.py MANIFEST.json
MANIFEST is one case object or a list of them (one process for many cases: importing skimage
costs more than the cases). Each case:
  {"width": W, "height": H, "dtype": "uint8" | "uint16" | "float32",
   "elevation": path, "markers": path (int32), "mask": path (uint8) | null,
   "connectivity": 4 | 8, "watershedLine": bool, "out": path}
Inputs are raw little-endian row-major files; `out` receives the labels as raw int32 (H*W).
Prints "ok <cases> skimage <version>" on success.
"""
import json
import sys

import numpy as np
import skimage
from skimage.segmentation import watershed


def run_case(case):
    shape = (case["height"], case["width"])
    elevation = np.fromfile(case["elevation"], dtype="<" + np.dtype(case["dtype"]).str[1:]).reshape(shape)
    markers = np.fromfile(case["markers"], dtype="<i4").reshape(shape)
    mask = None
    if case.get("mask"):
        mask = np.fromfile(case["mask"], dtype=np.uint8).reshape(shape) != 0
    # skimage's connectivity counts squared distances: 1 = 4-neighbours, 2 = 8-neighbours (2-D).
    connectivity = {4: 1, 8: 2}[case["connectivity"]]
    labels = watershed(elevation, markers, connectivity=connectivity, mask=mask,
                       watershed_line=bool(case["watershedLine"]))
    np.ascontiguousarray(labels, dtype="<i4").tofile(case["out"])


def main():
    with open(sys.argv[1], encoding="utf8") as f:
        manifest = json.load(f)
    cases = manifest if isinstance(manifest, list) else [manifest]
    for case in cases:
        run_case(case)
    print(f"ok {len(cases)} skimage {skimage.__version__}")


if __name__ == "__main__":
    main()
