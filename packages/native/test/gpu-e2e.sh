#!/bin/bash
# GPU-machine end-to-end check (docs/kernels/gpu-check.md), run from the repo root with .gpu/ carried: vitest CUDA suites, then the pipeline with
# --device cpu and --device cuda on one synthetic set, outputs compared byte for byte.
set -o pipefail
OUT=${OUT:-/tmp/e2e-out}; mkdir -p $OUT
N=${E2E_IMAGES:-40}; S=${E2E_SIZE:-1024}
# The carried Node goes first on PATH (the device image has none); nothing outside /tmp changes.
mkdir -p /tmp/gpu-node/bin && xz -dc .gpu/node.xz > /tmp/gpu-node/bin/node && chmod +x /tmp/gpu-node/bin/node || exit 1
export PATH=/tmp/gpu-node/bin:$PATH
tar -xJf .gpu/nm.tar.xz && tar -xJf .gpu/native-deps.tar.xz || exit 1
mkdir -p node_modules/@cellcam /tmp/gpu-addon
for p in native core cli bench; do ln -sfn ../../packages/$p node_modules/@cellcam/$p; done
# Beside, not over, a checkout's own build (gpu-verify.sh says why); the loader tries it first.
xz -dc .gpu/addon.xz > /tmp/gpu-addon/cellcam_native.node || exit 1
export CELLCAM_NATIVE_PATH=/tmp/gpu-addon/cellcam_native.node
node packages/cli/dist/main.js doctor
node node_modules/vitest/vitest.mjs run packages/core/test/label.test.ts packages/core/test/rle.test.ts packages/core/test/pool.test.ts > $OUT/vitest.log 2>&1
echo "vitest rc=$?"; grep -a "Tests \|FAIL\|×" $OUT/vitest.log | head -20
C=packages/cli/dist/main.js; W=/tmp/e2e; rm -rf $W; mkdir -p $W
node $C synth --out $W/syn --images $N --size $S --seed 3 --balanced --test-fraction 0.25 --quiet || exit 1
for d in cpu cuda; do
  /usr/bin/time -f "$d run: %e s wall" node $C run --train $W/syn/train --test $W/syn/test --out $W/$d --device $d --jobs 8 > $OUT/run-$d.log 2> $OUT/run-$d.err
  echo "$d rc=$?"; tail -1 $OUT/run-$d.err; grep -a "pooling and cell RLE" $OUT/run-$d.err
done
node -e '
const r = (d) => JSON.parse(require("fs").readFileSync(`/tmp/e2e/${d}/run.json`, "utf8"));
const a = r("cpu"), b = r("cuda");
console.log("kernels:", JSON.stringify(a.kernels), JSON.stringify(b.kernels));
for (const s of a.stages) console.log(s.stage.padEnd(16), "cpu", String(s.ms).padStart(7), "ms   cuda", String(b.stages.find((x) => x.stage === s.stage)?.ms).padStart(7), "ms");
'
cp $W/cpu/run.json $OUT/run-cpu.json; cp $W/cuda/run.json $OUT/run-cuda.json
# Files that must differ: run.json (times, device), segmentation.csv's ms column, and the model
# paths inside the training reports (they name the run folder). Everything else byte for byte.
same=0; diff=0
while IFS= read -r f; do
  a=$W/cpu/$f; b=$W/cuda/$f
  case "$f" in
    run.json) continue ;;
    */segmentation.csv) cmp -s <(cut -d, -f1-4 "$a") <(cut -d, -f1-4 "$b") ;;
    *report.json) cmp -s <(sed "s#$W/cpu/##g" "$a") <(sed "s#$W/cuda/##g" "$b") ;;
    *) cmp -s "$a" "$b" ;;
  esac
  if [ $? -eq 0 ]; then same=$((same + 1)); else diff=$((diff + 1)); echo "DIFFER $f"; fi
done < <(cd $W/cpu && find . -type f | sed 's#^\./##' | sort)
echo "cpu vs cuda run folders: $same files equal (timing columns and run-folder paths aside), $diff differ"
[ $diff -eq 0 ]
