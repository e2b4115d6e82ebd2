#!/usr/bin/env python3
"""A PyTorch external trainer for `cellcam run` (docs/trainer-protocol.md).

NOT RUN in cellcam's development environment: that machine has no torch. It is a documented
starting point, checked only for Python syntax there. Requirements (where you run it):
    pip install torch torchvision numpy pillow onnx onnxruntime

Usage (cellcam passes the job file as the last argument and in $CELLCAM_JOB):
    python examples/trainer/train_torch.py /path/to/job.json

Handles the three contracts of the protocol:
  image-classifier  ResNet-18 (4-channel stem) -> logits [N,19] and CAM [N,19,h,w]
                    (the FC weights applied as a 1x1 convolution to the last feature map)
  cell-crops        ResNet-18 on the masked crops -> logits [N,19] or [N,20]
  cell-features     a small MLP on the pooled features -> logits [N,19] or [N,20]

hyperParameters it reads (all optional): epochs (10), lr (3e-4), batchSize (32), workers (4),
pretrained (false; needs the torchvision weights cached), device ("cuda" when available).
"""
import csv
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from PIL import Image


def progress(done, total, message=""):
    # The protocol line; flush because stdout is a pipe (block-buffered) under cellcam.
    print(f"PROGRESS {done}/{total} {message}".rstrip(), flush=True)


def load_job():
    path = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CELLCAM_JOB")
    if not path:
        sys.exit("usage: train_torch.py <job.json> (or set CELLCAM_JOB)")
    with open(path) as f:
        job = json.load(f)
    if job.get("version") != 1:
        sys.exit(f"train_torch.py: unsupported job version {job.get('version')}")
    return job


def read_manifest(job):
    folder = os.path.dirname(job["manifest"])
    with open(job["manifest"], newline="") as f:
        rows = list(csv.DictReader(f))
    at = lambda p: p if os.path.isabs(p) else os.path.join(folder, p)
    return rows, at


def target_of(row, n_classes, multi_label):
    """Soft `targets` when present, else the `labels` ids (multi-hot, or a class index)."""
    if row.get("targets"):
        t = torch.tensor([float(v) for v in row["targets"].split("|")])
        return t if multi_label else t / t.sum().clamp_min(1e-12)
    ids = [int(v) for v in row.get("labels", "").split("|") if v != ""]
    t = torch.zeros(n_classes)
    t[ids] = 1.0
    return t if multi_label else t / t.sum().clamp_min(1.0)


def read_channel(path):
    """One stain as float32 in [0, 1] (8- or 16-bit greyscale; HPA RGB JPEGs: the stain's band)."""
    img = Image.open(path)
    if img.mode in ("I;16", "I;16B", "I"):
        return np.asarray(img, dtype=np.float32) / 65535.0
    if img.mode == "RGB":
        band = {"red": 0, "green": 1, "blue": 2, "yellow": 0}[path.rsplit("_", 1)[1].split(".")[0]]
        return np.asarray(img, dtype=np.float32)[:, :, band] / 255.0
    return np.asarray(img.convert("L"), dtype=np.float32) / 255.0


class ImageSet(torch.utils.data.Dataset):
    """Whole images, preprocessed as cellcam does at inference: R,G,B,Y / max, area-resized."""

    def __init__(self, rows, at, size, n_classes):
        self.rows, self.at, self.size, self.n = rows, at, size, n_classes

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        r = self.rows[i]
        x = torch.from_numpy(np.stack([read_channel(self.at(r[c])) for c in ("red", "green", "blue", "yellow")]))
        # 'area' = adaptive average pooling: the same as INTER_AREA for integer shrink factors.
        x = F.interpolate(x[None], size=(self.size, self.size), mode="area")[0]
        return x, target_of(r, self.n, True), float(r.get("weight") or 1)


class NpyRows(torch.utils.data.Dataset):
    """Cell crops ([n,4,S,S] uint16 / 65535, or float32) or features ([n,K] float32) by (file, index)."""

    def __init__(self, rows, at, n_classes, multi_label):
        self.rows, self.at, self.n, self.multi = rows, at, n_classes, multi_label
        self.files = {}

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        r = self.rows[i]
        f = self.at(r["file"])
        if f not in self.files:
            self.files[f] = np.load(f, mmap_mode="r")
        a = self.files[f][int(r["index"])]
        x = torch.from_numpy(a.astype(np.float32) / (65535.0 if a.dtype == np.uint16 else 1.0))
        return x, target_of(r, self.n, self.multi), float(r.get("weight") or 1)


def resnet18_4ch(n_out, pretrained):
    net = torchvision.models.resnet18(weights="IMAGENET1K_V1" if pretrained else None)
    w = net.conv1.weight.data
    net.conv1 = nn.Conv2d(4, 64, kernel_size=7, stride=2, padding=3, bias=False)
    if pretrained:  # RGB filters for R, G, B; yellow starts from the red filters
        net.conv1.weight.data = torch.cat([w, w[:, :1]], dim=1)
    net.fc = nn.Linear(net.fc.in_features, n_out)
    return net


class CamNet(nn.Module):
    """GAP + FC classifier exported with two outputs: logits, and the CAM on the logit scale."""

    def __init__(self, n_out, pretrained):
        super().__init__()
        self.net = resnet18_4ch(n_out, pretrained)
        self.export_cam = False

    def features(self, x):
        n = self.net
        x = n.maxpool(n.relu(n.bn1(n.conv1(x))))
        return n.layer4(n.layer3(n.layer2(n.layer1(x))))

    def forward(self, x):
        f = self.features(x)
        logits = self.net.fc(f.mean(dim=(2, 3)))
        if not self.export_cam:
            return logits
        cam = torch.einsum("kc,nchw->nkhw", self.net.fc.weight, f) + self.net.fc.bias[None, :, None, None]
        return logits, cam


class Mlp(nn.Module):
    def __init__(self, k, n_out):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(k, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, n_out))

    def forward(self, x):
        return self.body(x)


def main():
    job = load_job()
    hp = {"epochs": 10, "lr": 3e-4, "batchSize": 32, "workers": 4, "pretrained": False, **job.get("hyperParameters", {})}
    device = torch.device(hp.get("device") or ("cuda" if torch.cuda.is_available() else "cpu"))
    n_classes, multi = len(job["classes"]), job["multiLabel"]
    contract = job["contract"]
    rows, at = read_manifest(job)
    train_rows = [r for r in rows if r.get("split", "train") == "train"]
    val_rows = [r for r in rows if r.get("split") == "val"]

    if contract == "image-classifier":
        size = job.get("inputSize") or 512
        make = lambda rs: ImageSet(rs, at, size, n_classes)
        model = CamNet(n_classes, hp["pretrained"])
        dummy = torch.zeros(1, 4, size, size)
        names = (["image"], ["logits", "cam"])
        axes = {"image": {0: "N"}, "logits": {0: "N"}, "cam": {0: "N"}}
        meta = {"cellcam.kind": "image-classifier", "cellcam.input_size": str(size)}
    elif contract == "cell-crops":
        make = lambda rs: NpyRows(rs, at, n_classes, multi)
        s = job.get("cropSize") or make(train_rows)[0][0].shape[-1]
        model = resnet18_4ch(n_classes, hp["pretrained"])
        dummy = torch.zeros(1, 4, s, s)
        names = (["crop"], ["logits"])
        axes = {"crop": {0: "N"}, "logits": {0: "N"}}
        meta = {"cellcam.kind": "cell-classifier", "cellcam.cell_input": "crops", "cellcam.crop_size": str(s)}
    elif contract == "cell-features":
        make = lambda rs: NpyRows(rs, at, n_classes, multi)
        k = make(train_rows)[0][0].shape[-1]
        model = Mlp(k, n_classes)
        dummy = torch.zeros(1, k)
        names = (["cell_features"], ["logits"])
        axes = {"cell_features": {0: "N"}, "logits": {0: "N"}}
        meta = {"cellcam.kind": "cell-classifier", "cellcam.cell_input": "features", "cellcam.feature_count": str(k)}
    else:
        sys.exit(f"train_torch.py: unknown contract {contract}")
    meta["cellcam.activation"] = "sigmoid" if multi else "softmax"

    loader = lambda rs, shuffle: torch.utils.data.DataLoader(
        make(rs), batch_size=hp["batchSize"], shuffle=shuffle, num_workers=hp["workers"], pin_memory=device.type == "cuda")
    train, val = loader(train_rows, True), (loader(val_rows, False) if val_rows else None)
    model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=hp["lr"], weight_decay=1e-4)
    steps = hp["epochs"] * len(train)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=hp["lr"], total_steps=max(steps, 1))

    def loss_of(logits, y, w):
        if multi:
            per = F.binary_cross_entropy_with_logits(logits, y, reduction="none").mean(dim=1)
        else:
            per = -(y * F.log_softmax(logits, dim=1)).sum(dim=1)  # soft-target cross-entropy
        return (per * w).sum() / w.sum()

    start = time.time()
    for epoch in range(1, hp["epochs"] + 1):
        model.train()
        total = 0.0
        for x, y, w in train:
            x, y, w = x.to(device), y.to(device), w.to(device)
            loss = loss_of(model(x), y, w)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(x)
        msg = f"epoch {epoch} loss {total / len(train.dataset):.4f}"
        if val is not None:
            model.eval()
            with torch.no_grad():
                vl = sum(loss_of(model(x.to(device)), y.to(device), w.to(device)).item() * len(x) for x, y, w in val)
            msg += f" val_loss {vl / len(val.dataset):.4f}"
        progress(epoch, hp["epochs"], msg)
        torch.save(model.state_dict(), os.path.join(job["workDir"], "checkpoint.pt"))
    print(f"trained in {time.time() - start:.0f} s", flush=True)

    # Export on the CPU in eval mode, to a temp name, then rename (protocol section 5).
    model.cpu().eval()
    if isinstance(model, CamNet):
        model.export_cam = True
    tmp = job["output"] + f".tmp-{os.getpid()}"
    torch.onnx.export(model, dummy, tmp, input_names=names[0], output_names=names[1], dynamic_axes=axes, opset_version=17)
    import onnx

    m = onnx.load(tmp)
    onnx.helper.set_model_props(m, meta)
    onnx.save(m, tmp)

    # Optional self-check before handing over (cellcam checks again).
    import onnxruntime as ort

    out = ort.InferenceSession(tmp, providers=["CPUExecutionProvider"]).run(None, {names[0][0]: dummy.numpy()})
    assert out[0].shape == (1, n_classes), out[0].shape
    assert all(math.isfinite(v) for v in out[0].ravel().tolist())
    os.replace(tmp, job["output"])
    print(f"wrote {job['output']}", flush=True)


if __name__ == "__main__":
    main()
