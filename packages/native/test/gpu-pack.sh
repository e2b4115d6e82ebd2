#!/bin/bash
# Packs what a lent GPU machine needs into .gpu/ (git-ignored), from the repo root after
# `npm install`: Node, the addon, node_modules (without what the device checks never load) and the
# test data of ../shared that the CUDA suites read; and builds core's and bench's dist. Then one
# device call carries [".gpu", "packages/core/dist", "packages/bench/dist"] and runs
# packages/native/test/gpu-verify.sh (docs/kernels/gpu-check.md). About 59 MB, under the 64 MiB
# that a call may carry with the tree.
set -euo pipefail
cd "$(dirname "$0")/../../.."
addon=packages/native/build/Release/cellcam_native.node
[ -f "$addon" ] || { echo "gpu-pack: $addon is missing: run npm install first" >&2; exit 1; }
mkdir -p .gpu
npx turbo run build >/dev/null
xz -T0 -9 -c "$addon" > .gpu/addon.xz
# Node is the slowest to pack and changes least: kept when it is the same version.
if [ ! -f .gpu/node.xz ] || [ "$(cat .gpu/node.version 2>/dev/null)" != "$(node --version)" ]; then
  cp "$(command -v node)" /tmp/cellcam-node-strip && strip /tmp/cellcam-node-strip
  xz -T0 -9e -c /tmp/cellcam-node-strip > .gpu/node.xz && node --version > .gpu/node.version
  rm -f /tmp/cellcam-node-strip
fi
tar -cf - --exclude='node_modules/onnxruntime-node' --exclude='node_modules/@turbo' --exclude='node_modules/turbo' \
  --exclude='node_modules/typescript' --exclude='node_modules/playwright*' --exclude='node_modules/lightningcss*' \
  --exclude='node_modules/@types' --exclude='node_modules/@cellcam' node_modules | xz -T0 -6 > .gpu/nm.tar.xz
if [ -d ../shared/data ]; then
  (cd ../shared && tar -cf - data/label-cell-golden/*/*_pred.png data/label-cell-golden/*/meta.json \
    data/hpa-samples/1000_A12_2_cellmask.png data/hpa-samples/1000_A12_2_nucleimask.png \
    data/hpa-samples/rle_test_vectors.json) > .gpu/shared.tar
else
  rm -f .gpu/shared.tar; echo "gpu-pack: no ../shared/data: the suites that read it will skip on the device" >&2
fi
du -cb .gpu/* packages/core/dist packages/bench/dist | tail -1 | awk '{printf "gpu-pack: %.1f MB to carry besides the tree\n", $1 / 1e6}'
