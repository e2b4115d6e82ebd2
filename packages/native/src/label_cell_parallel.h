// label_cell's chain (LabelCellCore of label_cell.cc with 'fifo' watershed ties) written once
// against an executor (see watershed_levels.h for the interface): the CUDA version
// (cuda/label_cell.cu) and its host emulation (emulated.cc). Every step runs where the
// executor runs; the host only reads counts, to size the next tables, and the 256-bin histograms
// for Otsu (one per image of a batch). Step for step the same as the CPU chain, so the outputs are
// identical.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "label_cell.h"
#include "morphology.h"
#include "parallel_ops.h"
#include "watershed_levels.h"

namespace cellcam {
namespace lcpar {

using namespace parallel;  // NOLINT: the atomics and the union-find of parallel_ops.h
using wslevels::Neighbour;

// The temporaries of connected-component labelling: parent (n), root flags and ranks (n + 2: a
// scan over labels 0..count plus its total), sizes (n + 1).
struct LabelScratch {
  int32_t *parent, *flag, *rank, *sizes;
};

// Components of `in` (binary: nonzero pixels; label mode: equal nonzero values) with 4- or
// 8-connectivity, numbered 1..count in raster order of their first pixels (label.cc's output);
// sc.sizes[k] = pixels of label k for k in 1..count. `out` must not alias `in`.
template <class Exec, typename T>
bool Label(Exec& ex, const T* in, int32_t* out, int32_t W, int32_t H, int32_t Hi, int conn, bool labelMode, const LabelScratch& sc,
           int32_t* count) {
  const int64_t n = int64_t{W} * H;
  int32_t* const par = sc.parent;
  int32_t* const flag = sc.flag;
  int32_t* const rank = sc.rank;
  int32_t* const sizes = sc.sizes;
  if (!ex.For(n, [=] CELLCAM_HD(int64_t i) { par[i] = static_cast<int32_t>(i); }) ||
      // Each pixel joins its earlier neighbours (left, up; for 8-connectivity up-left and
      // up-right), except where other unions already join them, since in long runs half the
      // unions are implied (the ten labellings' unions were 10 % of a stacked batch's device
      // time on the H100):
      // - 8-conn (cuda/label.cu's rules): when up joins, up-left and up-right are its horizontal
      //   neighbours and join it by their own left unions; when left joins, up-left is left's up.
      // - 4-conn: when left and up-left join, up is skipped: up-left joins up (up's left union)
      //   and left (left's up union, or, when left skipped it too, the same argument one pixel
      //   further left; the first pixel of a run never skips).
      !ex.For(n, [=] CELLCAM_HD(int64_t i) {
        const T v = in[i];
        if (v == 0) return;
        const int32_t p = static_cast<int32_t>(i);
        const int32_t y = p / W, x = p - y * W;
        const auto joins = [&](int k) -> int32_t {  // neighbour k when it belongs with p, else -1
          const int32_t q = Neighbour(x, y, k, W, Hi);
          if (q < 0) return -1;
          const T u = in[q];
          return (labelMode ? u == v : u != 0) ? q : -1;
        };
        const int32_t left = joins(1), up = joins(0), upLeft = joins(4);
        if (left >= 0) Union(par, p, left);
        if (conn == 8) {
          if (up >= 0) {
            Union(par, p, up);
            return;
          }
          if (left < 0 && upLeft >= 0) Union(par, p, upLeft);
          const int32_t upRight = joins(5);
          if (upRight >= 0) Union(par, p, upRight);
        } else if (up >= 0 && (left < 0 || upLeft < 0)) {
          Union(par, p, up);
        }
      }) ||
      // Roots are first pixels (parents only go down), so a scan of root flags numbers the
      // components in raster order.
      !ex.For(n + 1, [=] CELLCAM_HD(int64_t i) {
        if (i == n || in[i] == 0) {
          flag[i] = 0;
          return;
        }
        const int32_t r = Find(par, static_cast<int32_t>(i));
        par[i] = r;
        flag[i] = r == i ? 1 : 0;
      }) ||
      !ex.ExclusiveSum(flag, rank, n + 1) || !ex.Read(count, rank + n, sizeof(int32_t)) ||
      !ex.Zero(sizes, sizeof(int32_t) * (static_cast<size_t>(*count) + 1)) ||
      !ex.For(n, [=] CELLCAM_HD(int64_t i) {
        if (in[i] == 0) {
          out[i] = 0;
          return;
        }
        const int32_t lab = rank[par[i]] + 1;
        out[i] = lab;
        CountOne(sizes, lab);
      })) {
    return false;
  }
  return true;
}

// Keeps the labels 1..count of at least `min` pixels (sizes from Label), renumbered 1.. in the same
// order; *kept gets their number.
template <class Exec>
bool Compact(Exec& ex, int32_t* lab, int64_t n, int32_t count, int64_t min, const LabelScratch& sc, int32_t* kept) {
  int32_t* const sizes = sc.sizes;
  int32_t* const flag = sc.flag;
  int32_t* const rank = sc.rank;
  if (!ex.For(count + 1, [=] CELLCAM_HD(int64_t k) { flag[k] = k >= 1 && sizes[k] >= min ? 1 : 0; }) ||
      !ex.For(1, [=] CELLCAM_HD(int64_t) { flag[count + 1] = 0; }) || !ex.ExclusiveSum(flag, rank, count + 2) ||
      !ex.Read(kept, rank + count + 1, sizeof(int32_t)) ||
      !ex.For(n, [=] CELLCAM_HD(int64_t i) {
        const int32_t l = lab[i];
        lab[i] = l != 0 && flag[l] ? rank[l] + 1 : 0;
      })) {
    return false;
  }
  return true;
}

// remove_small_objects on a label image whose values are in 0..maxLabel: labels with fewer than
// `min` pixels become 0, in place.
template <class Exec>
bool RemoveSmallLabels(Exec& ex, int32_t* lab, int64_t n, int32_t maxLabel, int64_t min, const LabelScratch& sc) {
  int32_t* const counts = sc.sizes;
  return ex.Zero(counts, sizeof(int32_t) * (static_cast<size_t>(maxLabel) + 1)) &&
         ex.For(n, [=] CELLCAM_HD(int64_t i) {
           if (lab[i] != 0) CountOne(counts, lab[i]);
         }) &&
         ex.For(n, [=] CELLCAM_HD(int64_t i) {
           const int32_t l = lab[i];
           if (l != 0 && counts[l] < min) lab[i] = 0;
         });
}

// One grey dilation (kMax) or erosion pass with the flat disk(r), pixels outside the image (for a
// batch: outside the pixel's own image of Hi rows) ignored.
template <class Exec, bool kMax>
bool GreyPass(Exec& ex, const uint8_t* in, uint8_t* out, int32_t W, int32_t H, int32_t Hi, int r) {
  return ex.For(int64_t{W} * H, [=] CELLCAM_HD(int64_t i) {
    const int32_t p = static_cast<int32_t>(i);
    const int32_t y = p / W, x = p - y * W, y0 = y - y % Hi;
    uint8_t best = in[p];
    for (int dy = -r; dy <= r; ++dy) {
      const int32_t yy = y + dy;
      if (yy < y0 || yy >= y0 + Hi) continue;
      int hw = 0;  // the disk's half-width on this row: largest dx with dx² + dy² <= r²
      while ((hw + 1) * (hw + 1) + dy * dy <= r * r) ++hw;
      const int32_t x0 = x - hw < 0 ? 0 : x - hw, x1 = x + hw >= W ? W - 1 : x + hw;
      const uint8_t* row = in + int64_t{yy} * W;
      for (int32_t xx = x0; xx <= x1; ++xx) {
        const uint8_t v = row[xx];
        if (kMax ? v > best : v < best) best = v;
      }
    }
    out[p] = best;
  });
}

// hpacellseg's __fill_holes: zero thick boundaries, binary_fill_holes(> 0), ndi.label (4-conn),
// into `out`; `b` is an n-byte temporary and `outside` an (n + 1)-int one.
template <class Exec, typename T>
bool FillHoles(Exec& ex, const T* labels, int32_t* out, uint8_t* b, int32_t* outside, int32_t W, int32_t H, int32_t Hi,
               const LabelScratch& sc, int32_t* count) {
  const int64_t n = int64_t{W} * H;
  const int64_t rowsB = int64_t{W} * (H / Hi);  // the top (or bottom) rows of all images
  int32_t c = 0;
  // find_boundaries(mode='thick'): a 4-neighbour inside the image differs. Then the background of
  // the boundary-free mask; its components that touch an image's border are not holes.
  if (!ex.For(n, [=] CELLCAM_HD(int64_t i) {
        const int32_t p = static_cast<int32_t>(i);
        const int32_t y = p / W, x = p - y * W, yi = y % Hi;
        const T v = labels[p];
        const bool edge = (yi > 0 && labels[p - W] != v) || (yi < Hi - 1 && labels[p + W] != v) || (x > 0 && labels[p - 1] != v) ||
                          (x < W - 1 && labels[p + 1] != v);
        b[p] = !(v != 0 && !edge);
      }) ||
      !Label(ex, b, out, W, H, Hi, 4, false, sc, &c) || !ex.Zero(outside, sizeof(int32_t) * (static_cast<size_t>(c) + 1)) ||
      !ex.For(2 * rowsB + 2 * int64_t{H}, [=] CELLCAM_HD(int64_t t) {
        int64_t p;
        if (t < 2 * rowsB) {
          const int64_t r = t < rowsB ? t : t - rowsB, img = r / W;
          p = (img * Hi + (t < rowsB ? 0 : Hi - 1)) * W + r % W;
        } else if (t < 2 * rowsB + H) {
          p = (t - 2 * rowsB) * W;
        } else {
          p = (t - 2 * rowsB - H) * W + W - 1;
        }
        outside[out[p]] = 1;
      }) ||
      !ex.For(n, [=] CELLCAM_HD(int64_t i) { b[i] = (b[i] == 0) | (outside[out[i]] == 0); }) ||
      !Label(ex, b, out, W, H, Hi, 4, false, sc, count)) {
    return false;
  }
  return true;
}

// Outputs of one chain: the cell count (the sum over a batch, and each image's), and what the three
// watersheds' host loops did.
struct ChainStats {
  int64_t cellCount = 0;
  std::vector<int64_t> cellCounts;
  gpu::WatershedStats nuclei, cells, extension;
};

// A batch that ran as several stacks (RunInStacks): the stats of all of them.
inline void AddChainStats(ChainStats* to, const ChainStats& from) {
  to->cellCount += from.cellCount;
  to->cellCounts.insert(to->cellCounts.end(), from.cellCounts.begin(), from.cellCounts.end());
  gpu::AddWatershedStats(&to->nuclei, from.nuclei);
  gpu::AddWatershedStats(&to->cells, from.cells);
  gpu::AddWatershedStats(&to->extension, from.extension);
}

// Device memory of one stacked call per pixel at the working resolution: its uploads and downloads
// (10 bytes), the chain's buffers (36) and, at its peak, a flood's (up to 94 with a line and
// bursts), plus a margin for cub's temporaries. The emulator measures the peak
// (_labelCellEmulated's peakBytes; tests/cuda-memory.test.ts keeps this above it). A
// batch runs in stacks of as many images as the free memory holds at this rate.
constexpr double kDeviceBytesPerPixel = 160;

// LabelCellCore on the executor: np/cp are interleaved H×W×3 predictions in the executor's
// memory, nucleiOut/cellsOut W*H uint16 there too.
//
// images > 1 runs a batch in one chain: `images` images of H / images rows each, stacked. Every
// step treats them as separate images (neighbourhoods, disks and borders stop at the seams, Otsu
// has a histogram per image, the floods keep each image's own order: watershed_levels.h), and ids
// are made per image where their value matters: the uint8 wrap of the cell ids and the outputs.
// So each image's labels equal its own chain's, while the launches and host round trips are
// shared by the batch.
template <class Exec>
bool LabelCellChain(Exec& ex, const uint8_t* np, const uint8_t* cp, int32_t W, int32_t H, const LabelCellConstants& k,
                    uint16_t* nucleiOut, uint16_t* cellsOut, ChainStats* stats, int32_t images = 1) {
  const int64_t n = int64_t{W} * H;
  const int32_t Hi = H / images;  // rows of one image
  const int64_t imagePixels = int64_t{W} * Hi;
  uint8_t* const A = ex.template Alloc<uint8_t>(n);
  uint8_t* const B = ex.template Alloc<uint8_t>(n);
  uint8_t* const C = ex.template Alloc<uint8_t>(n);
  uint8_t* const E = ex.template Alloc<uint8_t>(n);
  int32_t* const I = ex.template Alloc<int32_t>(n);
  int32_t* const J = ex.template Alloc<int32_t>(n);
  int32_t* const K = ex.template Alloc<int32_t>(n);
  int32_t* const T = ex.template Alloc<int32_t>(n + 1);  // FillHoles' outside flags
  int32_t* const hist = ex.template Alloc<int32_t>(256 * int64_t{images});
  double* const thr = ex.template Alloc<double>(images);          // each image's cell threshold
  int32_t* const nucOff = ex.template Alloc<int32_t>(images);     // nucleus ids of the images before it
  int32_t* const labStart = ex.template Alloc<int32_t>(images);   // final labels of the images before it
  int32_t* const cellOff = ex.template Alloc<int32_t>(images + 1);  // kept cells before it (and in all)
  LabelScratch sc{ex.template Alloc<int32_t>(n), ex.template Alloc<int32_t>(n + 2), ex.template Alloc<int32_t>(n + 2),
                  ex.template Alloc<int32_t>(n + 1)};
  if (!A || !B || !C || !E || !I || !J || !K || !T || !hist || !thr || !nucOff || !labStart || !cellOff || !sc.parent ||
      !sc.flag || !sc.rank || !sc.sizes) {
    return false;
  }
  int32_t count = 0;

  ex.Section("nuclei: masks, seeds, holes");
  // Nuclei: the float64 comparisons of the official code on 0..255 values; numpy adds the two
  // uint8 border channels modulo 256.
  uint8_t* const seedMask = A;
  uint8_t* const mask = B;
  if (!ex.For(n, [=] CELLCAM_HD(int64_t i) {
        const uint8_t n2 = np[3 * i + 2];
        const uint8_t border = static_cast<uint8_t>(np[3 * i + 1] + cp[3 * i + 1]);
        seedMask[i] = (1 - border / 255.0 > 0.05) & (n2 / 255.0 > 0.4 + -0.25);
        mask[i] = n2 / 255.0 > 0.4;
      })) {
    return false;
  }
  // remove_small_objects(seeds) then ndi.label: dropping components keeps the raster order.
  int32_t* const markers = I;
  int32_t seeds = 0;
  if (!Label(ex, seedMask, markers, W, H, Hi, 4, false, sc, &count) || !Compact(ex, markers, n, count, k.seedMinSize, sc, &seeds)) return false;
  // remove_small_holes(mask, 1000): small background components become foreground.
  {
    uint8_t* const inv = C;
    int32_t* const lab = J;
    int32_t* const sizes = sc.sizes;
    const int64_t area = k.holeArea;
    if (!ex.For(n, [=] CELLCAM_HD(int64_t i) { inv[i] = mask[i] == 0; }) || !Label(ex, inv, lab, W, H, Hi, 4, false, sc, &count) ||
        !ex.For(n, [=] CELLCAM_HD(int64_t i) { mask[i] = lab[i] == 0 ? 1 : sizes[lab[i]] < area; })) {
      return false;
    }
  }
  // remove_small_objects(mask, 8).
  {
    int32_t* const lab = J;
    int32_t* const sizes = sc.sizes;
    const int64_t min = k.maskMinSize;
    if (!Label(ex, mask, lab, W, H, Hi, 4, false, sc, &count) ||
        !ex.For(n, [=] CELLCAM_HD(int64_t i) { mask[i] = lab[i] != 0 && sizes[lab[i]] >= min; })) {
      return false;
    }
  }
  // Elevation = the 0/1 mask itself: every pixel that floods is on one level.
  ex.Section("nuclei: watershed");
  int32_t* const ws = J;
  if (!wslevels::Flood(ex, mask, 256, markers, mask, ws, W, H, 4, true, &stats->nuclei, Hi) ||
      !RemoveSmallLabels(ex, ws, n, seeds, k.nucleusMinSize, sc)) {
    return false;
  }
  ex.Section("nuclei: small ones, label");
  int32_t* const nucleiLabel = I;
  int32_t nucleiCount = 0;
  // An image's nucleus ids start after the images before it: their count is the label rank at its
  // first pixel (labels never cross a seam, and they are numbered in raster order).
  const int32_t* const rank = sc.rank;
  if (!Label(ex, ws, nucleiLabel, W, H, Hi, 8, true, sc, &nucleiCount) ||
      !ex.For(images, [=] CELLCAM_HD(int64_t b) { nucOff[b] = rank[b * imagePixels]; })) {
    return false;
  }

  ex.Section("cells: histogram, Otsu, region");
  // Cells. -distance: clip(a, lo, a) is a itself, so 255 - c2 orders like the official float.
  uint8_t* const c2 = A;
  uint8_t* const elev = C;
  if (!ex.Zero(hist, 256 * sizeof(int32_t) * static_cast<size_t>(images)) || !ex.For(n, [=] CELLCAM_HD(int64_t i) {
        const uint8_t v = cp[3 * i + 2];
        c2[i] = v;
        elev[i] = static_cast<uint8_t>(255 - v);
        CountOne(hist, static_cast<int32_t>(256 * (i / imagePixels)) + v);  // one key per (image, value): lanes may straddle a seam
      })) {
    return false;
  }
  // Otsu on the host, in the CPU chain's float64 code (a device version could contract into FMAs
  // and round differently); one histogram read for the whole batch.
  std::vector<int32_t> h32(256 * static_cast<size_t>(images));
  if (!ex.Read(h32.data(), hist, h32.size() * sizeof(int32_t))) return false;
  for (int32_t b = 0; b < images; ++b) {
    int64_t bins[256];
    for (int v = 0; v < 256; ++v) bins[v] = h32[256 * static_cast<size_t>(b) + v];
    const double t = morph::OtsuFromHistogram(bins, 256, 255.0) * 0.5;
    const double tb = t > 0.22 ? t : 0.22;  // Python max(0.22, t)
    if (!ex.For(1, [=] CELLCAM_HD(int64_t) { thr[b] = tb; })) return false;
  }
  uint8_t* const region = B;
  if (!ex.For(n, [=] CELLCAM_HD(int64_t i) { region[i] = c2[i] / 255.0 > thr[i / imagePixels]; })) return false;
  ex.Section("cells: watershed, small ones");
  int32_t* const cl = J;
  if (!wslevels::Flood(ex, elev, 256, nucleiLabel, region, cl, W, H, 4, false, &stats->cells, Hi) ||
      !RemoveSmallLabels(ex, cl, n, nucleiCount, k.cellMinSize, sc)) {
    return false;
  }
  ex.Section("cells: uint8 wrap, disk closing");
  uint8_t* const lab8 = A;  // c2 is not needed any more (elev holds it)
  uint8_t* const dilated = E;
  uint8_t* const closed = B;
  int32_t* const filled = K;
  // .astype(np.uint8) wraps the image's own nucleus ids.
  if (!ex.For(n, [=] CELLCAM_HD(int64_t i) {
        const int32_t l = cl[i];
        lab8[i] = l != 0 ? static_cast<uint8_t>(l - nucOff[i / imagePixels]) : 0;
      }) ||
      !GreyPass<Exec, true>(ex, lab8, dilated, W, H, Hi, k.closingRadius) ||
      !GreyPass<Exec, false>(ex, dilated, closed, W, H, Hi, k.closingRadius)) {
    return false;
  }
  ex.Section("cells: fill holes");
  if (!FillHoles(ex, closed, filled, E, T, W, H, Hi, sc, &count)) return false;
  ex.Section("extension: watershed");
  uint8_t* const sk = B;
  if (!ex.For(n, [=] CELLCAM_HD(int64_t i) { sk[i] = (filled[i] > 0) | (cp[3 * i + 1] / 255.0 > 0.05); }) ||
      !wslevels::Flood(ex, elev, 256, filled, sk, cl, W, H, 4, false, &stats->extension, Hi)) {
    return false;
  }
  ex.Section("extension: fill holes");
  if (!FillHoles(ex, cl, filled, E, T, W, H, Hi, sc, &count)) return false;
  ex.Section("cells: label, small ones, ids");
  int32_t* const cellsL = J;
  int32_t cellCount = 0;
  // Each image's cells are numbered from 1: the kept labels before it are Compact's rank at its
  // first label (labels before image b = the label rank at its first pixel, saved before Compact
  // reuses the ranks).
  if (!Label(ex, filled, cellsL, W, H, Hi, 8, false, sc, &count) ||
      !ex.For(images, [=] CELLCAM_HD(int64_t b) { labStart[b] = rank[b * imagePixels]; }) ||
      !Compact(ex, cellsL, n, count, k.cellMinSize, sc, &cellCount)) {
    return false;
  }
  const int32_t labels = count;
  if (!ex.For(images + 1, [=] CELLCAM_HD(int64_t b) { cellOff[b] = rank[(b < images ? labStart[b] : labels) + 1]; }) ||
      !ex.For(n, [=] CELLCAM_HD(int64_t i) {
        const int32_t l = cellsL[i];
        cellsOut[i] = l != 0 ? static_cast<uint16_t>(l - cellOff[i / imagePixels]) : 0;
      })) {
    return false;
  }

  ex.Section("nuclei inside kept cells");
  // Nuclei inside kept cells, large enough, carry their cell's id.
  uint8_t* const nb = E;
  int32_t* const sizes = sc.sizes;
  const int64_t nucleusMin = k.nucleusMinSize;
  if (!ex.For(n, [=] CELLCAM_HD(int64_t i) { nb[i] = (cellsOut[i] != 0) & (nucleiLabel[i] != 0); }) ||
      !Label(ex, nb, K, W, H, Hi, 8, false, sc, &count) ||
      !ex.For(n, [=] CELLCAM_HD(int64_t i) { nucleiOut[i] = K[i] != 0 && sizes[K[i]] >= nucleusMin ? cellsOut[i] : 0; })) {
    return false;
  }
  stats->cellCount = cellCount;
  stats->cellCounts.assign(static_cast<size_t>(images), cellCount);
  if (images > 1) {
    std::vector<int32_t> off(static_cast<size_t>(images) + 1);
    if (!ex.Read(off.data(), cellOff, off.size() * sizeof(int32_t))) return false;
    for (int32_t b = 0; b < images; ++b) stats->cellCounts[b] = off[b + 1] - off[b];
  }
  return true;
}

}  // namespace lcpar
}  // namespace cellcam
