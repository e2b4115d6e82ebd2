#!/bin/bash
# The CUDA checks of one device call (docs/kernels/gpu-check.md), run from the repo root on a lent
# GPU machine with .gpu/ carried: gpu-check.mjs (every CUDA kernel against the CPU, with timings),
# the vitest CUDA suites, the CUDA bench rows and compute-sanitizer. Every step has its own time
# limit, so a hang in one still leaves the others' logs in $OUT; the last line sums them up.
#   GPU_STEPS=check,vitest,bench,sanitize (default: all)   BENCH_SIZES="2048 3072"   PACK_OUT=1 (logs in one .tgz)
#   SANITIZERS="memcheck racecheck synccheck initcheck" (the default)   SANITIZE_LIMIT=100 (s each)
#   SANITIZE_ONLY='watershed|labelCell' (gpu-check.mjs --only: racecheck is too slow for all of --small)
#   GPU_STEPS=profile (not in the default): CELLCAM_CUDA_PROFILE=1 on PROFILE_ONLY (default: labelCell at scale 1,
#   2048², one call and the stacked batch) -- each step's device time and each host read's round trip, by the
#   source line that issued it, and by labelCell's sections (the lent machines have no working Nsight Systems)
#   GPU_STEPS=blocksort (not in the default): the watershed and labelCell rows of gpu-check.mjs again with
#   CELLCAM_CUDA_BLOCK_SORT=0 (every generation sorted by cub's device sort instead of one block for
#   <= 2048 pixels, the default): must stay equal to the CPU, and its CUDA times compare with the check step's
#   GPU_STEPS=before (not in the default): the same rows with the paths that session 12 replaced, unseen on a GPU
#   when written: CELLCAM_CUDA_PLACEMENT=sort (every generation radix-sorted, not a level's later ones placed by
#   counting), CELLCAM_CUDA_READBACK=pageable (the host loop's reads straight into pageable memory) and
#   CELLCAM_CUDA_FUSED_SEARCH=0 (the next level searched in a launch of its own, not by the settle's last
#   block) and CELLCAM_CUDA_ONE_BLOCK=0 (no small generation in one launch of one block); equal to the CPU,
#   and its CUDA times are the "before" of the check step's
#   GPU_STEPS=oneblock (not in the default): the same rows with CELLCAM_CUDA_ONE_BLOCK=0 alone (small
#   generations as separate launches): the one-block path's own effect and a second check of it
#   GPU_STEPS=levelrun (not in the default): the same rows with CELLCAM_CUDA_LEVEL_RUN=0 alone (one generation
#   per one-block launch, as in session 12; the default runs the small generations that follow in the same
#   launch, up to a burst): the run's own effect
#   GPU_STEPS=runpops (not in the default): the 2048² labelCell rows (one image, the stacked batch of 16) with
#   the largest generations that run in one block at 2048 (sorted and placed, session 12's sizes), 4096 (the
#   default), 16384 and 65536 placed: which sizes pay is the device's to say (one block is one SM)
set -o pipefail
OUT=${OUT:-/tmp/gpu-out}; mkdir -p "$OUT"
STEPS=",${GPU_STEPS:-check,vitest,bench,sanitize},"
export NO_COLOR=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/device.txt"
# What was carried in .gpu/ (docs/kernels/gpu-check.md) is unpacked; in an installed checkout
# (npm install done, Node on PATH) there is nothing to unpack. The carried Node goes first on
# PATH (the device image has none); nothing outside /tmp changes.
if [ -f .gpu/node.xz ]; then
  mkdir -p /tmp/gpu-node/bin && xz -dc .gpu/node.xz > /tmp/gpu-node/bin/node && chmod +x /tmp/gpu-node/bin/node || exit 1
  export PATH=/tmp/gpu-node/bin:$PATH
fi
if [ -f .gpu/nm.tar.xz ]; then
  tar -xJf .gpu/nm.tar.xz || exit 1
  mkdir -p node_modules/@cellcam
  for p in native core cli bench; do ln -sfn ../../packages/$p node_modules/@cellcam/$p; done
fi
# The carried addon goes to /tmp, not over build/Release: run in a checkout that built its own
# (as a test of this script once did), it must not replace that with an older one.
ADDON_ARGS=()
if [ -f .gpu/addon.xz ]; then
  mkdir -p /tmp/gpu-addon && xz -dc .gpu/addon.xz > /tmp/gpu-addon/cellcam_native.node || exit 1
  export CELLCAM_NATIVE_PATH=/tmp/gpu-addon/cellcam_native.node   # the loader's first choice (vitest, bench)
  ADDON_ARGS=(--addon "$CELLCAM_NATIVE_PATH")                      # gpu-check.mjs loads its addon itself
fi
# The test data of ../shared that the CUDA suites read (goldens, RLE vectors), when carried.
if [ -f .gpu/shared.tar ]; then mkdir -p ../shared && tar -xf .gpu/shared.tar -C ../shared || exit 1; fi
export UV_THREADPOOL_SIZE=16
summary=""
step() { # step NAME LIMIT_S COMMAND...: runs when NAME is in GPU_STEPS, output in $OUT/NAME.log
  local name=$1 limit=$2; shift 2
  case "$STEPS" in *",$name,"*) ;; *) return 0 ;; esac
  echo "== $name (limit ${limit} s): $*"
  local t0=$SECONDS
  timeout -k 10 "$limit" "$@" >> "$OUT/$name.log" 2>&1
  local rc=$?
  echo "== $name: exit $rc after $((SECONDS - t0)) s"
  summary="$summary $name=$rc"
}
step check 200 node packages/native/test/gpu-check.mjs "${ADDON_ARGS[@]}" --json "$OUT/check.json"
grep -a -E "^(DIFFER|ERROR)|equal, " "$OUT/check.log" 2>/dev/null | tail -20
step vitest 100 node node_modules/vitest/vitest.mjs run packages/core/test/label.test.ts packages/core/test/rle.test.ts packages/core/test/pool.test.ts
step vitest 150 node node_modules/vitest/vitest.mjs run packages/core/test/watershed-cuda.test.ts packages/core/test/label-cell-cuda.test.ts -t 'on the device|device option'
grep -a -E "Tests  |Test Files|FAIL|AssertionError|Error:" "$OUT/vitest.log" 2>/dev/null | head -30
# The bench rows of the CUDA watershed and labelCell: one thread and CUDA, and at 2048² the
# scikit-image replica (issue 6's "500x").
for size in ${BENCH_SIZES:-2048 3072}; do
  impl=native-1t,cuda; [ "$size" = 2048 ] && impl=$impl,python
  step bench 150 node packages/bench/bin/bench.cjs --kernels watershed,label-cell --sizes "$size" --impl $impl --out "$OUT/bench-$size.json"
done
grep -a -E "^\| (watershed|label-cell) " "$OUT/bench.log" 2>/dev/null | grep -a -E "cuda|replica|skimage" | head -30
for tool in ${SANITIZERS:-memcheck racecheck synccheck initcheck}; do
  step sanitize "${SANITIZE_LIMIT:-100}" compute-sanitizer --tool "$tool" --error-exitcode 3 node packages/native/test/gpu-check.mjs "${ADDON_ARGS[@]}" --small ${SANITIZE_ONLY:+--only "$SANITIZE_ONLY"}
  grep -a -E "ERROR SUMMARY|RACECHECK SUMMARY|equal, " "$OUT/sanitize.log" 2>/dev/null | tail -2
done
variant() { # variant NAME VAR=VALUE...: gpu-check.mjs's watershed and labelCell rows with those switches
  local name=$1; shift
  step "$name" 200 env "$@" node packages/native/test/gpu-check.mjs "${ADDON_ARGS[@]}" --only 'watershed|labelCell' --json "$OUT/$name.json"
  grep -a -E "^(DIFFER|ERROR)|equal, " "$OUT/$name.log" 2>/dev/null | tail -5
}
variant blocksort CELLCAM_CUDA_BLOCK_SORT=0
variant before CELLCAM_CUDA_PLACEMENT=sort CELLCAM_CUDA_READBACK=pageable CELLCAM_CUDA_FUSED_SEARCH=0 CELLCAM_CUDA_ONE_BLOCK=0
variant oneblock CELLCAM_CUDA_ONE_BLOCK=0
for pops in 2048 4096 16384 65536; do
  step runpops 90 env CELLCAM_CUDA_RUN_POPS=$pops CELLCAM_CUDA_RUN_SORTED_POPS=$((pops < 4096 ? pops : 4096)) node packages/native/test/gpu-check.mjs "${ADDON_ARGS[@]}" \
    --only 'labelCell fifo scale 1 2048x2048|labelCell fifo stacked, one call 2048x2048' --json "$OUT/runpops-$pops.json"
done
grep -a -E "^(DIFFER|ERROR)|equal, " "$OUT/runpops.log" 2>/dev/null | tail -5
variant levelrun CELLCAM_CUDA_LEVEL_RUN=0
step profile 120 env CELLCAM_CUDA_PROFILE=1 node packages/native/test/gpu-check.mjs "${ADDON_ARGS[@]}" \
  --only "${PROFILE_ONLY:-labelCell fifo scale 1 2048x2048|labelCell fifo stacked, one call 2048x2048}"
grep -a -E -A14 "^cellcam CUDA profile" "$OUT/profile.log" 2>/dev/null | head -60
# A call brings back at most 8 files from $OUT: PACK_OUT=1 packs the logs into one (run.log, which
# the caller's tee may still be writing, stays apart).
if [ -n "${PACK_OUT:-}" ]; then
  (cd "$OUT" && files=$(ls | grep -v -x -e gpu-out.tgz -e run.log) && [ -n "$files" ] && tar -czf gpu-out.tgz --remove-files $files)
fi
echo "gpu-verify:$summary"
