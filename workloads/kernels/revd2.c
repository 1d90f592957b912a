// REVD2, hand-written: the paper's output-stationary deconvolution as an IREE custom dispatch.
//
// One workgroup computes one output row oh = r*q + a of one image, every output channel. Output
// pixel (oh, r*p + b) reads input pixels (q + s_a - j, p + s_b - i) with the phase's own taps
// W2[o, c, a, b, j, i] (j, i < T = ceil(Kd/r)): exactly T^2 * C_in multiply-adds, accumulated in
// registers and written once, straight into the interleaved output -- no zero insertion, no
// overlapping partial sums, no shuffle pass, no padded copy of the input (the borders are checked
// instead). The vector path keeps, for up to 4 vectors of consecutive p, one accumulator per
// vector and phase b: each input vector (one row's floats) is multiplied by r broadcast weights.
//
// Built freestanding by clang for each CPU architecture (workloads/algorithms/revd2_hw.py) and
// linked into the dispatch by IREE: no libc, no globals. Vectors are GCC/clang vector extensions,
// so the same source is AVX2 on x86-64 and NEON on aarch64.
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
#define RMAX 4          // the vector path's largest stride; larger strides take the scalar path
#define NVMAX 4         // vectors per phase in one chunk

// the int32 parameter block (workloads/algorithms/revd2_hw.py writes it in this order)
enum { P_N, P_CI, P_CO, P_H, P_W, P_OH, P_OW, P_R, P_T, P_SHIFTS };   // then s_a[R], s_b[R]

static inline vf splat(float v) { return v - (vf){0}; }
static inline vf load(const float *p) { return *(const vfu *)p; }

// Output columns r*p + b for p in [p0, p0 + NV*VL): every input read is in bounds horizontally.
// R, NV and UNIFORM (every phase b reads the same input columns: all s_b equal, as in every D-SP)
// are compile-time constants in each call, so the accumulators stay in registers.
static inline __attribute__((always_inline)) void chunk(
    const float *xn, const float *w_oa, float *yrow, const float *bias_oa, const int32_t *sb,
    int ci, int h, int w, int t, int ih0, int p0, int ow, const int R, const int NV, const int UNIFORM) {
  vf acc[RMAX][NVMAX];
  for (int b = 0; b < R; ++b)
    for (int v = 0; v < NV; ++v) acc[b][v] = splat(bias_oa[b]);
  const size_t wc_stride = (size_t)R * R * t * t;
  for (int c = 0; c < ci; ++c) {
    const float *xc = xn + (size_t)c * h * w;
    const float *wc = w_oa + c * wc_stride;
    for (int j = 0; j < t; ++j) {
      const int ih = ih0 - j;
      if ((unsigned)ih >= (unsigned)h) continue;        // a zero row of the (virtual) padding
      const float *row = xc + (size_t)ih * w + p0;
      for (int i = 0; i < t; ++i) {
        vf xv[NVMAX];
        if (UNIFORM)
          for (int v = 0; v < NV; ++v) xv[v] = load(row + sb[0] - i + v * VL);
        for (int b = 0; b < R; ++b) {
          const vf wv = splat(wc[(b * t + j) * t + i]);
          for (int v = 0; v < NV; ++v)
            acc[b][v] += wv * (UNIFORM ? xv[v] : load(row + sb[b] - i + v * VL));
        }
      }
    }
  }
  const int full = R * (p0 + NV * VL) <= ow;              // the whole chunk lies inside the output
  for (int k = 0; k < NV * VL; ++k)
    for (int b = 0; b < R; ++b)
      if (full || R * (p0 + k) + b < ow) yrow[R * (p0 + k) + b] = acc[b][k / VL][k % VL];
}

// One vector of p at the image's left or right border: each input row segment it needs is first
// copied into a small zero-padded buffer (the padding tensor.pad would make, one row at a time).
static inline __attribute__((always_inline)) void edge(
    const float *xn, const float *w_oa, float *yrow, const float *bias_oa, const int32_t *sb,
    int ci, int h, int w, int t, int ih0, int p0, int ow, int smin, int smax, const int R) {
  vf acc[RMAX];
  float seg[VL + 64];                                     // VL + (t - 1) + (smax - smin) floats
  for (int b = 0; b < R; ++b) acc[b] = splat(bias_oa[b]);
  const size_t wc_stride = (size_t)R * R * t * t;
  const int first = p0 + smin - (t - 1), len = VL + (t - 1) + (smax - smin);
  for (int c = 0; c < ci; ++c) {
    const float *xc = xn + (size_t)c * h * w;
    const float *wc = w_oa + c * wc_stride;
    for (int j = 0; j < t; ++j) {
      const int ih = ih0 - j;
      if ((unsigned)ih >= (unsigned)h) continue;
      const float *row = xc + (size_t)ih * w;
      for (int k = 0; k < len; ++k) {
        const int col = first + k;
        seg[k] = (unsigned)col < (unsigned)w ? row[col] : 0.0f;
      }
      for (int i = 0; i < t; ++i)
        for (int b = 0; b < R; ++b)
          acc[b] += splat(wc[(b * t + j) * t + i]) * load(seg + sb[b] - smin + (t - 1) - i);
    }
  }
  for (int k = 0; k < VL; ++k)
    for (int b = 0; b < R; ++b)
      if (R * (p0 + k) + b < ow) yrow[R * (p0 + k) + b] = acc[b][k];
}

// The widest chunk the registers hold for stride R, then single vectors: returns the next p.
#define NV_FOR(R) ((ACC_REGS / (R)) < NVMAX ? (ACC_REGS / (R)) : NVMAX)
#define CHUNKS(R, U)                                                                           \
  do {                                                                                         \
    for (; p <= hi - (NV_FOR(R) - 1) * VL && p + NV_FOR(R) * VL <= pn; p += NV_FOR(R) * VL)    \
      chunk(xn, w_oa, yrow, bias_oa, sb, ci, h, w, t, ih0, p, ow, R, NV_FOR(R), U);            \
    for (; p <= hi && p + VL <= pn; p += VL)                                                   \
      chunk(xn, w_oa, yrow, bias_oa, sb, ci, h, w, t, ih0, p, ow, R, 1, U);                    \
    for (; p < pn; p += VL)                                                                    \
      edge(xn, w_oa, yrow, bias_oa, sb, ci, h, w, t, ih0, p, ow, smin, smax, R);               \
  } while (0)
#define EDGES(R)                                                                               \
  for (; p < lo && p < pn; p += VL) edge(xn, w_oa, yrow, bias_oa, sb, ci, h, w, t, ih0, p, ow, smin, smax, R)

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

// x: N x C_in x H x W; w: W2[C_out, C_in, r, r, T, T]; bias: C_out x r x r (per phase);
// y: N x C_out x OH x OW. Called once per workgroup (row, image).
void revd2_workgroup(const float *x, size_t x_off, const float *wt, size_t w_off,
                     const float *bias, size_t b_off, const int32_t *prm, size_t p_off,
                     float *y, size_t y_off, size_t row, size_t image) {
  x += x_off; wt += w_off; bias += b_off; prm += p_off; y += y_off;
  const int ci = prm[P_CI], co = prm[P_CO], h = prm[P_H], w = prm[P_W];
  const int oh_len = prm[P_OH], ow = prm[P_OW], r = prm[P_R], t = prm[P_T];
  const int32_t *sa = prm + P_SHIFTS, *sb = sa + r;
  const int oh = (int)row, q = oh / r, a = oh % r, ih0 = q + sa[a];
  const int pn = (ow + r - 1) / r;
  int smin = sb[0], smax = sb[0];
  for (int b = 1; b < r; ++b) {
    smin = sb[b] < smin ? sb[b] : smin;
    smax = sb[b] > smax ? sb[b] : smax;
  }
  // vectors starting in [lo, hi] read columns p + s_b - i inside [0, W) for every b and i
  const int lo = (t - 1 - smin) > 0 ? t - 1 - smin : 0;
  const int hi = w - VL - smax;
  const int uniform = smin == smax;
  // the vector path: r <= RMAX, and a border segment that fits the edge buffer
  const int vector_path = r <= RMAX && (t - 1) + (smax - smin) <= 64;
  const float *xn = x + (size_t)image * ci * h * w;
  for (int o = 0; o < co; ++o) {
    const float *w_oa = wt + ((size_t)o * ci * r + a) * r * t * t;
    const float *bias_oa = bias + ((size_t)o * r + a) * r;
    float *yrow = y + (((size_t)image * co + o) * oh_len + oh) * ow;
    int p = 0;
    switch (vector_path ? r * 2 + uniform : 0) {
      case 4: EDGES(2); CHUNKS(2, 0); break;
      case 5: EDGES(2); CHUNKS(2, 1); break;
      case 6: EDGES(3); CHUNKS(3, 0); break;
      case 7: EDGES(3); CHUNKS(3, 1); break;
      case 8: EDGES(4); CHUNKS(4, 0); break;
      case 9: EDGES(4); CHUNKS(4, 1); break;
      default: break;                                     // the scalar path below
    }
    for (; p < pn; ++p) column(xn, w_oa, yrow, bias_oa, sb, ci, h, w, t, r, ih0, p, ow);
  }
}
