// REVD2, hand-written: the paper's output-stationary deconvolution as an IREE custom dispatch.
//
// One workgroup computes one output row oh = r*q + a of one image, every output channel. Output
// pixel (oh, r*p + b) reads input pixels (q + s_a - j, p + s_b - i) with the phase's own taps
// W2[o, c, a, b, j, i] (j, i < T = ceil(Kd/r)): exactly T^2 * C_in multiply-adds, accumulated and
// written once, straight into the interleaved output -- no zero insertion, no overlapping partial
// sums, no shuffle pass, no padded copy of the input tensor.
//
// The vector path takes NV vectors of consecutive p at a time (all r phases b): their r * NV
// accumulators stay in registers through every input channel and all T^2 taps, each input vector
// multiplied by r broadcast weights. The input is read in place; only the vectors at the image's
// borders read a small zero-bordered copy of their rows (the padding).
//
// Built freestanding by clang for each CPU architecture (workloads/algorithms/revd2_hw.py) and
// linked into the dispatch by IREE: no libc, no globals. Vectors are GCC/clang vector extensions,
// so the same source is AVX-512 or AVX2 on x86-64 and NEON on aarch64.
#include <stddef.h>
#include <stdint.h>

// One vector: 16 floats where AVX-512 is there (a zmm), else 8 (two NEON registers on aarch64).
#if defined(__AVX512F__)
#define VL 16
#define ACC_REGS 20     // accumulators that fit beside the input vectors (32 zmm registers)
#else
#define VL 8
#define ACC_REGS 10     // 16 ymm registers (x86), or 32 NEON registers holding 16 of these
#endif
typedef float vf __attribute__((vector_size(VL * 4)));
typedef float vfu __attribute__((vector_size(VL * 4), aligned(4)));   // unaligned loads
#define RMAX 4          // the vector path's largest stride
#define TMAX 16         // ... and largest taps per phase
#define NVMAX 4         // vectors per phase kept in registers
#define RAMAX RMAX      // output rows computed together (phases a of one q)
#define SEG (VL * NVMAX + TMAX + 16)   // a vector group's input columns: NV VL + (T - 1) + (smax - smin)

// the int32 parameter block (workloads/algorithms/revd2_hw.py writes it in this order)
enum { P_N, P_CI, P_CO, P_H, P_W, P_OH, P_OW, P_R, P_T, P_ROWS, P_SHIFTS };   // then s_a[R], s_b[R]

static inline vf splat(float v) { return v - (vf){0}; }
static inline vf load(const float *p) { return *(const vfu *)p; }

// a[k] += the taps of one input channel for NV vectors of consecutive p of output row k of the
// block (phase a + k: its weights follow phase a's, R T^2 further each). Row j of the channel starts
// at src[j], at the first input column the vectors read (the column of their first p, with the
// least shift s_b, at i = T - 1). R, NV, U (every phase b reads the same columns: all s_b equal,
// as in every D-SP) and RA are compile-time constants in each call, so the accumulators stay in
// registers, and each input vector loaded serves the RA rows' R phases.
static inline __attribute__((always_inline)) void taps(
    vf (*a)[RMAX][NVMAX], const float *const *src, const int *valid, const float *wc, const int32_t *sb,
    int t, int smin, int smax, const int R, const int NV, const int U, const int RA) {
  // weight (k, b, j, i) at wj[k * wk + b * tt + i]: pointer-sized offsets, none re-extended per tap
  const ptrdiff_t tt = (ptrdiff_t)t * t, wk = R * tt;
  for (int j = 0; j < t; ++j) {
    if (!valid[j]) continue;                            // a zero row of the (virtual) padding
    const float *s0 = src[j] + (t - 1) - smin, *wj = wc + (ptrdiff_t)j * t;
    if (U) {
      for (ptrdiff_t i = 0; i < t; ++i) {
        vf xv[NVMAX];
        for (int u = 0; u < NV; ++u) xv[u] = load(s0 + sb[0] - i + u * VL);
        for (int k = 0; k < RA; ++k)
          for (int b = 0; b < R; ++b) {
            const vf wv = splat(wj[k * wk + b * tt + i]);
            for (int u = 0; u < NV; ++u) a[k][b][u] += wv * xv[u];
          }
      }
      continue;
    }
    // phases at different shifts: tap i of phase b reads column offset d = s_b - i, and phases
    // share offsets, so each offset's vectors are loaded once for every phase that reads them
    for (int d = smin - (t - 1); d <= smax; ++d) {
      vf xv[NVMAX];
      for (int u = 0; u < NV; ++u) xv[u] = load(s0 + d + u * VL);
      for (int b = 0; b < R; ++b) {
        const int i = sb[b] - d;
        if ((unsigned)i >= (unsigned)t) continue;
        for (int k = 0; k < RA; ++k) {
          const vf wv = splat(wj[k * wk + b * tt + i]);
          for (int u = 0; u < NV; ++u) a[k][b][u] += wv * xv[u];
        }
      }
    }
  }
}

// A workgroup's input rows, every channel, zero-padded once for all its output channels and vector
// groups: row j of channel c, columns [lo, lo + len), at buf[(c * t + j) * len]. Used where the
// row needs padding and they fit ROWBUF (small images and channel counts, where copying the
// border rows again for each group and output channel cost more than the multiply-adds).
#ifndef ROWBUF
#define ROWBUF 8192     // floats: 32 KiB of the worker's 128 KiB stack (tests set 1: never used)
#endif
struct rows {
  const float *buf;
  int len, lo;
};

// dst[k] = image row xrow's column first + k for k < len, zero outside [0, w): the padding.
static inline void copy_padded(float *dst, const float *xrow, int w, int first, int len) {
  const int a = first < 0 ? -first : 0, e = w - first < len ? w - first : len;
  const float *src = xrow + first;
  for (int k = 0; k < a; ++k) dst[k] = 0.0f;
  for (int k = a; k < e; ++k) dst[k] = src[k];
  for (int k = e > a ? e : a; k < len; ++k) dst[k] = 0.0f;
}

static __attribute__((noinline)) void fill_rows(float *buf, const float *xn, int ci, int h, int w, int t,
                                                int ih0, int lo, int len) {
  for (int c = 0; c < ci; ++c)
    for (int j = 0; j < t; ++j) {
      const int ih = ih0 - j;
      if ((unsigned)ih >= (unsigned)h) continue;     // never read: taps() skips rows outside the image
      copy_padded(buf + (size_t)(c * t + j) * len, xn + ((size_t)c * h + ih) * w, w, lo, len);
    }
}

// seg[j] = row j's columns [first, first + len), zero outside [0, w): the padding, for a border.
static __attribute__((noinline)) void pad_rows(float (*seg)[SEG], const float **src, const float *xc,
                                               const int *valid, int t, int w, int ih0, int first, int len) {
  for (int j = 0; j < t; ++j) {
    if (!valid[j]) continue;
    copy_padded(seg[j], xc + (size_t)(ih0 - j) * w, w, first, len);
    src[j] = seg[j];
  }
}

// yrow[r * (p0 + k) + b] = out[b][k] for k < np: the phases interleaved into the output row.
static inline __attribute__((always_inline)) void store_row(float *yrow, const float (*out)[NVMAX * VL],
                                                            const int R, int p0, int np, int ow) {
  float *dst = yrow + R * p0;
  if (R * (p0 + np) <= ow) {                            // the common case: no column past the row's end
    for (int k = 0; k < np; ++k)
      for (int b = 0; b < R; ++b) dst[R * k + b] = out[b][k];
    return;
  }
  for (int k = 0; k < np; ++k)
    for (int b = 0; b < R; ++b)
      if (R * (p0 + k) + b < ow) dst[R * k + b] = out[b][k];
}

// Two vectors' lanes interleaved: zip_lo(x, y) = x0 y0 x1 y1 ..., zip_hi the upper halves.
#if VL == 16
#define ZIP_LO(x, y) __builtin_shufflevector(x, y, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23)
#define ZIP_HI(x, y) __builtin_shufflevector(x, y, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31)
#else
#define ZIP_LO(x, y) __builtin_shufflevector(x, y, 0, 8, 1, 9, 2, 10, 3, 11)
#define ZIP_HI(x, y) __builtin_shufflevector(x, y, 4, 12, 5, 13, 6, 14, 7, 15)
#endif

// dst[R * k + b] = a[b][k] for R = 2 or 4 and every lane of NV vectors: the phases interleaved by
// shuffles and stored as whole vectors (for R = 4, zipping phases 0 and 2, 1 and 3, then the two
// results, puts b = 0, 1, 2, 3 side by side).
static inline __attribute__((always_inline)) void store_phases(float *dst, vf (*a)[NVMAX], const int R,
                                                               const int NV) {
  for (int u = 0; u < NV; ++u) {
    float *d = dst + R * u * VL;
    if (R == 2) {
      *(vfu *)d = ZIP_LO(a[0][u], a[1][u]);
      *(vfu *)(d + VL) = ZIP_HI(a[0][u], a[1][u]);
    } else {
      const vf plo = ZIP_LO(a[0][u], a[2][u]), phi = ZIP_HI(a[0][u], a[2][u]);
      const vf qlo = ZIP_LO(a[1][u], a[3][u]), qhi = ZIP_HI(a[1][u], a[3][u]);
      *(vfu *)d = ZIP_LO(plo, qlo);
      *(vfu *)(d + VL) = ZIP_HI(plo, qlo);
      *(vfu *)(d + 2 * VL) = ZIP_LO(phi, qhi);
      *(vfu *)(d + 3 * VL) = ZIP_HI(phi, qhi);
    }
  }
}

// Output columns r*p + b of the block's RA rows, for the NV * VL values of p from p0 and every
// phase b, over every input channel. The input is read in place; only the vectors at the image's
// borders read a small zero-bordered copy (the padding, T rows of one channel at a time). Lanes
// past the row's end read zeros and are not stored.
static inline __attribute__((always_inline)) void group(
    const float *xn, const struct rows *pr, const float *w_oa, float *yrow, const float *bias_oa,
    const int32_t *sb, int ci, int h, int w, int t, int ih0, int p0, int pn, int ow, int smin, int smax,
    const int R, const int NV, const int U, const int RA) {
  vf a[RAMAX][RMAX][NVMAX];
  float seg[TMAX][SEG];
  const float *src[TMAX];
  int valid[TMAX];
  for (int k = 0; k < RA; ++k)
    for (int b = 0; b < R; ++b)
      for (int u = 0; u < NV; ++u) a[k][b][u] = splat(bias_oa[k * R + b]);
  const int first = p0 + smin - (t - 1), len = NV * VL + (t - 1) + (smax - smin);
  const int inside = first >= 0 && first + len <= w;
  const size_t wc_stride = (size_t)R * R * t * t;
  for (int j = 0; j < t; ++j) valid[j] = (unsigned)(ih0 - j) < (unsigned)h;
  for (int c = 0; c < ci; ++c) {
    const float *xc = xn + (size_t)c * h * w;
    if (pr) {                                           // the workgroup's padded rows
      for (int j = 0; j < t; ++j) src[j] = pr->buf + (size_t)(c * t + j) * pr->len + (first - pr->lo);
    } else if (inside) {
      for (int j = 0; j < t; ++j) src[j] = xc + (size_t)(valid[j] ? ih0 - j : 0) * w + first;
    } else {
      pad_rows(seg, src, xc, valid, t, w, ih0, first, len);
    }
    taps(a, src, valid, w_oa + c * wc_stride, sb, t, smin, smax, R, NV, U, RA);
  }
  for (int k = 0; k < RA; ++k) {                       // row k of the block: the next output row
    float *yk = yrow + (size_t)k * ow;
    if ((R == 2 || R == 4) && pn - p0 >= NV * VL && R * (p0 + NV * VL) <= ow) {
      store_phases(yk + R * p0, a[k], R, NV);         // whole vectors, interleaved in registers
      continue;
    }
    float out[RMAX][NVMAX * VL];
    for (int b = 0; b < R; ++b)
      for (int u = 0; u < NV; ++u) *(vfu *)&out[b][u * VL] = a[k][b][u];
    store_row(yk, (const float (*)[NVMAX * VL])out, R, p0, pn - p0 < NV * VL ? pn - p0 : NV * VL, ow);
  }
}

// One output row's columns for every p, NV vectors at a time. A row that does not divide into
// whole groups ends with a group moved back to end at its last column: it computes a few columns
// again and stores the same values, rather than finishing in single vectors whose few
// accumulators leave the FMA units waiting. Groups at the image's borders read padded copies.
static inline __attribute__((always_inline)) void row_of(
    const float *xn, const struct rows *pr, const float *w_oa, float *yrow, const float *bias_oa, const int32_t *sb,
    int ci, int h, int w, int t, int ih0, int pn, int ow, int smin, int smax,
    const int R, const int NV, const int U, const int RA) {
  const int span = NV * VL;
  for (int p0 = 0; p0 < pn; p0 += span) {
    if (p0 + span > pn && pn >= span) p0 = pn - span;
    group(xn, pr, w_oa, yrow, bias_oa, sb, ci, h, w, t, ih0, p0, pn, ow, smin, smax, R, NV, U, RA);
  }
}

// The most vectors per group that the phases' accumulators leave registers for, the vectors a
// row of pn columns per phase takes (the most, or 2 or 1 for a shorter row), and the most rows whose
// accumulators fit beside them: short rows (FSRCNN's 32 columns a phase) compute several rows of
// one q at once, each input vector then feeding RA x R accumulators.
#define NV_FOR(R) (ACC_REGS / (R) < NVMAX ? ACC_REGS / (R) : NVMAX)
#define RA_FOR(R, NV) (ACC_REGS / ((R) * (NV)) < (R) ? ACC_REGS / ((R) * (NV)) : (R))
static inline int vectors_for(int r, int pn) {
  const int nvec = (pn + VL - 1) / VL, most = NV_FOR(r);
  return nvec >= most ? most : nvec >= 2 ? 2 : 1;
}

// R, NV, U and RA become compile-time constants here (NV: vectors_for). any_row computes one row,
// any_block ra rows (2 to RA_FOR): two functions, so that one row's code is compiled as if blocks
// did not exist (with them in one function, or any_row not inlined, the sweep's rows ran 4-24%
// slower in a standalone harness; but there even a comment's edit moved one row's kernel by 25%,
// by where the code and data landed, so take such margins from many builds, not one).
#define ROW(R, NV, U, RA) row_of(xn, pr, w_oa, yrow, bias_oa, sb, ci, h, w, t, ih0, pn, ow, smin, smax, R, NV, U, RA)
#define SIZES(R, U, RA_OF)                             \
  if (nv == NV_FOR(R)) { RA_OF(R, NV_FOR(R), U) }       \
  else if (nv == 2) { RA_OF(R, 2, U) }                  \
  else { RA_OF(R, 1, U) }
#define PHASES(R, RA_OF)                               \
  case R:                                              \
    if (uniform) {                                     \
      SIZES(R, 1, RA_OF)                               \
    } else {                                           \
      SIZES(R, 0, RA_OF)                               \
    }                                                  \
    break;
#define SWITCH(RA_OF)                                  \
  switch (r) {                                         \
    PHASES(1, RA_OF)                                   \
    PHASES(2, RA_OF)                                   \
    PHASES(3, RA_OF)                                   \
    default: PHASES(4, RA_OF)                          \
  }
#define ONE(R, NV, U) ROW(R, NV, U, 1);
// (block_rows never asks for more rows than RA_FOR: each ra here has its instantiation)
#define BLOCK(R, NV, U)                                     \
  if (ra == 4 && RA_FOR(R, NV) >= 4) ROW(R, NV, U, 4);      \
  else if (ra == 3 && RA_FOR(R, NV) >= 3) ROW(R, NV, U, 3); \
  else if (ra == 2 && RA_FOR(R, NV) >= 2) ROW(R, NV, U, 2);

static inline __attribute__((always_inline)) void any_row(
    const float *xn, const struct rows *pr, const float *w_oa, float *yrow, const float *bias_oa, const int32_t *sb,
    int ci, int h, int w, int t, int ih0, int pn, int ow, int smin, int smax, int r) {
  const int nv = vectors_for(r, pn), uniform = smin == smax;
  SWITCH(ONE)
}

static __attribute__((noinline)) void any_block(
    const float *xn, const struct rows *pr, const float *w_oa, float *yrow, const float *bias_oa, const int32_t *sb,
    int ci, int h, int w, int t, int ih0, int pn, int ow, int smin, int smax, int r, int ra) {
  const int nv = vectors_for(r, pn), uniform = smin == smax;
  SWITCH(BLOCK)
}
#undef BLOCK
#undef ONE
#undef SWITCH
#undef PHASES
#undef SIZES
#undef ROW

// One output column group p (all phases b), every read bounds-checked: the image's borders.
static void column(const float *xn, const float *w_oa, float *yrow, const float *bias_oa,
                   const int32_t *sb, int ci, int h, int w, int t, int r, int ih0, int p, int ow) {
  const size_t wc_stride = (size_t)r * r * t * t;
  for (int b = 0; b < r; ++b) {
    const int col = r * p + b;
    if (col >= ow) break;
    float acc = bias_oa[b];
    for (int c = 0; c < ci; ++c) {
      const float *xc = xn + (size_t)c * h * w;
      const float *wc = w_oa + c * wc_stride + (size_t)b * t * t;
      for (int j = 0; j < t; ++j) {
        const int ih = ih0 - j;
        if ((unsigned)ih >= (unsigned)h) continue;
        for (int i = 0; i < t; ++i) {
          const int iw = p + sb[b] - i;
          if ((unsigned)iw < (unsigned)w) acc += xc[(size_t)ih * w + iw] * wc[j * t + i];
        }
      }
    }
    yrow[col] = acc;
  }
}

// How many output rows from oh (before end) one block computes: rows of the same q whose phases a
// share the shift s_a (so they read the same input rows), as many as registers hold (RA_FOR).
static int block_rows(const int32_t *prm, int oh, int end) {
  const int r = prm[P_R], pn = (prm[P_OW] + r - 1) / r;
  const int32_t *sa = prm + P_SHIFTS, *sb = sa + r;
  int smin = sb[0], smax = sb[0];
  for (int b = 1; b < r; ++b) {
    smin = sb[b] < smin ? sb[b] : smin;
    smax = sb[b] > smax ? sb[b] : smax;
  }
  if (r > RMAX || prm[P_T] > TMAX || smax - smin > 16) return 1;     // the scalar path: row by row
  const int most = RA_FOR(r, vectors_for(r, pn)), q = oh / r, a = oh % r;
  int k = 1;
  while (k < most && oh + k < end && (oh + k) / r == q && sa[a + k] == sa[a]) ++k;
  return k;
}

// x: N x C_in x H x W; w: W2[C_out, C_in, r, r, T, T]; bias: C_out x r x r (per phase);
// y: N x C_out x OH x OW. Output rows oh .. oh + ra - 1 of one image (one q, one shift s_a).
static void rows_of(const float *x, const float *wt, const float *bias, const int32_t *prm, float *y,
                    int oh, int ra, int image) {
  const int ci = prm[P_CI], co = prm[P_CO], h = prm[P_H], w = prm[P_W];
  const int oh_len = prm[P_OH], ow = prm[P_OW], r = prm[P_R], t = prm[P_T];
  const int32_t *sa = prm + P_SHIFTS, *sb = sa + r;
  const int pn = (ow + r - 1) / r;
  int smin = sb[0], smax = sb[0];
  for (int b = 1; b < r; ++b) {
    smin = sb[b] < smin ? sb[b] : smin;
    smax = sb[b] > smax ? sb[b] : smax;
  }
  const int vector_path = r <= RMAX && t <= TMAX && smax - smin <= 16;
  const float *xn = x + (size_t)image * ci * h * w;
  const int q = oh / r, a = oh % r, ih0 = q + sa[a];
  // every column a vector group can read: from the first group's to the last's (a row shorter
  // than a group reads a whole group's width; any_row picks the group's vectors the same way)
  const int span = vectors_for(r <= RMAX ? r : RMAX, pn) * VL;
  const int lo = smin - (t - 1), len = (pn > span ? pn : span) + smax - lo;
  float rowbuf[ROWBUF];
  struct rows rows_s = {rowbuf, len, lo}, *pr = 0;
  if (vector_path && (lo < 0 || lo + len > w) && (size_t)ci * t * len <= ROWBUF) {
    fill_rows(rowbuf, xn, ci, h, w, t, ih0, lo, len);
    pr = &rows_s;
  }
  for (int o = 0; o < co; ++o) {
    const float *w_oa = wt + ((size_t)o * ci * r + a) * r * t * t;
    const float *bias_oa = bias + ((size_t)o * r + a) * r;
    float *yrow = y + (((size_t)image * co + o) * oh_len + oh) * ow;
    if (!vector_path) {
      for (int p = 0; p < pn; ++p) column(xn, w_oa, yrow, bias_oa, sb, ci, h, w, t, r, ih0, p, ow);
    } else if (ra == 1) {
      any_row(xn, pr, w_oa, yrow, bias_oa, sb, ci, h, w, t, ih0, pn, ow, smin, smax, r);
    } else {
      any_block(xn, pr, w_oa, yrow, bias_oa, sb, ci, h, w, t, ih0, pn, ow, smin, smax, r, ra);
    }
  }
}

// Called once per workgroup: P_ROWS consecutive output rows of one image (one where rows are wide;
// all r rows of one q where they are short, which blocks then compute together).
void revd2_workgroup(const float *x, size_t x_off, const float *wt, size_t w_off,
                     const float *bias, size_t b_off, const int32_t *prm, size_t p_off,
                     float *y, size_t y_off, size_t group, size_t image) {
  x += x_off; wt += w_off; bias += b_off; prm += p_off; y += y_off;
  const int rows = prm[P_ROWS], first = (int)group * rows;
  const int end = first + rows < prm[P_OH] ? first + rows : prm[P_OH];
  for (int oh = first; oh < end;) {
    const int ra = rows == 1 ? 1 : block_rows(prm, oh, end);
    rows_of(x, wt, bias, prm, y, oh, ra, (int)image);
    oh += ra;
  }
}
