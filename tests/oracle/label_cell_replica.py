#!/usr/bin/env python3
"""Oracle for cellcam's labelCell/labelNuclei tests: the HPA post-processing (hpacellseg 0.1.8
label_cell / label_nuclei) re-written from docs (hpa-spec §4) on scikit-image 0.19 / scipy primitives.

Usage: label_cell_replica.py MANIFEST.json
MANIFEST is one case object or a list of them. Each case:
  {"width": W, "height": H, "op": "label_cell" | "label_nuclei",
   "nucleiPred": path, "cellPred": path | null,   raw uint8 H*W*3 (U-Net output, channel 0 unused)
   "scale": 1 | 0.5 | 0.25,                        optional, label_cell only (cellcam's fast path)
   "cells": path | null, "nuclei": path}          outputs, raw little-endian uint16 H*W
Prints "ok <cases> skimage <version>" on success. With "time": true in a case it also prints
"time <ms>" (median of a few runs of the post-processing itself, I/O excluded).
"""
import json
import sys
import time

import numpy as np
import skimage
from scipy import ndimage as ndi
from skimage import filters, measure, segmentation
from skimage.morphology import binary_erosion, closing, disk, remove_small_holes, remove_small_objects


def wsh_nuclei(nuclei_pred, cell_pred, seed_cutoff, holes, specks):
    """Nuclei part of label_cell (hpa-spec §4.3 steps 1-3), all comparisons on float64 like numpy."""
    n2 = nuclei_pred[..., 2] / 255.0
    # uint8 + uint8 wraps modulo 256 in numpy: kept on purpose (the official code does it).
    border = 1 - (nuclei_pred[..., 1] + cell_pred[..., 1]) / 255.0 > 0.05
    m = n2 * border
    seeds = m > 0.4 + (-0.25)
    seeds = remove_small_objects(seeds, seed_cutoff)
    mask = n2 > 0.4
    mask = remove_small_holes(mask, holes)
    mask = remove_small_objects(mask, specks).astype(np.uint8)
    markers = ndi.label(seeds, output=np.uint32)[0]
    return segmentation.watershed(mask, markers, mask=mask, watershed_line=True)


def fill_holes(label_img):
    """Zero the thick 4-boundaries, fill 4-connected holes, relabel 4-connected (ids are lost)."""
    boundaries = segmentation.find_boundaries(label_img)
    img = label_img * np.invert(boundaries)
    filled = ndi.binary_fill_holes(img > 0)
    return ndi.label(filled)[0]


def scaled(n, s):
    return int(np.round(n * s * s))


def label_cell(nuclei_pred, cell_pred, scale=1.0):
    """hpa-spec §4.3 at full resolution (scale 1) or with the area constants scaled by s² and the
    closing radius by round(6 s) (the caller has downscaled the predictions)."""
    s = scale
    nuclei_label = wsh_nuclei(nuclei_pred, cell_pred, scaled(500, s), scaled(1000, s), scaled(8, s))
    nuclei_label = remove_small_objects(nuclei_label, scaled(2500, s))
    nuclei_label = measure.label(nuclei_label)

    c1 = cell_pred[..., 1] / 255
    c2 = cell_pred[..., 2] / 255
    threshold_value = max(0.22, filters.threshold_otsu(c2) * 0.5)
    # np.invert of an int8 0/1 array is -1/-2 (bitwise NOT), both nonzero: the border term of the
    # official cell region never removes anything. Reproduced as written.
    cell_region = np.multiply(c2 > threshold_value, np.invert(np.asarray(c1 > 0.05, dtype=np.int8)))
    sk = np.asarray(cell_region, dtype=np.int8)
    # clip(a, lo, a) = min(max(a, lo), a) = a: the official "distance" is the raw uint8 channel.
    distance = np.clip(cell_pred[..., 2], 255 * threshold_value, cell_pred[..., 2])
    cell_label = segmentation.watershed(-distance, nuclei_label, mask=sk)
    cell_label = remove_small_objects(cell_label, scaled(5500, s)).astype(np.uint8)
    cell_label = closing(cell_label, disk(int(np.round(6 * s))))
    cell_label = fill_holes(cell_label)
    sk = np.asarray(np.asarray(cell_label > 0, dtype=np.int8) + np.asarray(c1 > 0.05, dtype=np.int8) > 0, dtype=np.int8)
    cell_label = segmentation.watershed(-distance, cell_label, mask=sk)
    cell_label = fill_holes(cell_label)
    cell_label = np.asarray(cell_label > 0, dtype=np.uint8)
    cell_label = measure.label(cell_label)
    cell_label = remove_small_objects(cell_label, scaled(5500, s))
    cell_label = measure.label(cell_label)
    cell_label = np.asarray(cell_label, dtype=np.uint16)

    nuclei = np.multiply(cell_label > 0, nuclei_label) > 0
    nuclei = measure.label(nuclei)
    nuclei = remove_small_objects(nuclei, scaled(2500, s))
    nuclei_label = np.multiply(cell_label, nuclei > 0)
    return nuclei_label, cell_label


def label_nuclei(nuclei_pred):
    """hpa-spec §4.2: thresholds 0.4/0.15/0.05 compared with the raw 0-255 values (as upstream)."""
    pred1 = nuclei_pred[..., 1]
    pred2 = nuclei_pred[..., 2]
    borders = pred1 > 0.05
    m = pred2 * (1 - borders)
    seeds = binary_erosion(m > 0.15)
    markers = measure.label(seeds)
    mask = remove_small_holes(pred2 > 0.4, 1000)
    labels = segmentation.watershed(mask, markers, mask=mask, watershed_line=True)
    labels = remove_small_objects(labels, 2500)
    return measure.label(labels)


def run_case(case):
    h, w = case["height"], case["width"]
    nuclei_pred = np.fromfile(case["nucleiPred"], dtype=np.uint8).reshape(h, w, 3)
    if case.get("op", "label_cell") == "label_nuclei":
        fn = lambda: (label_nuclei(nuclei_pred), None)
    else:
        cell_pred = np.fromfile(case["cellPred"], dtype=np.uint8).reshape(h, w, 3)
        fn = lambda: label_cell(nuclei_pred, cell_pred, float(case.get("scale", 1)))
    nuclei, cells = fn()
    if case.get("time"):
        ts = []
        for _ in range(int(case.get("repeat", 3))):
            t0 = time.perf_counter()
            fn()
            ts.append((time.perf_counter() - t0) * 1000)
        ts.sort()
        print(f"time {ts[len(ts) // 2]:.3f}")
    np.ascontiguousarray(nuclei, dtype="<u2").tofile(case["nuclei"])
    if cells is not None and case.get("cells"):
        np.ascontiguousarray(cells, dtype="<u2").tofile(case["cells"])


def main():
    with open(sys.argv[1], encoding="utf8") as f:
        manifest = json.load(f)
    cases = manifest if isinstance(manifest, list) else [manifest]
    for case in cases:
        run_case(case)
    print(f"ok {len(cases)} skimage {skimage.__version__}")


if __name__ == "__main__":
    main()
