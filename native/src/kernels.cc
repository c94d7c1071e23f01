// CPU kernels of the 'native' backend. Compiled once per ISA (MT_ISA = generic | avx2 | avx512, see
// native/build.js); everything here has internal linkage so the three copies never mix at link time
// (a shared inline template compiled with AVX-512 could otherwise be picked for the generic path).
// Hence: no std:: templates, only C math; loops are written so GCC vectorises them for the target ISA.
#include "kernels.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#ifndef MT_ISA
#define MT_ISA generic
#endif
#define MT_CAT2(a, b) a##b
#define MT_CAT(a, b) MT_CAT2(a, b)
#define MT_STR2(a) #a
#define MT_STR(a) MT_STR2(a)

namespace {

using mt::Kernels;

inline float maxf(float a, float b) { return a > b ? a : b; }
inline float minf(float a, float b) { return a < b ? a : b; }
inline int64_t mini(int64_t a, int64_t b) { return a < b ? a : b; }

inline float bitsToFloat(int32_t i) { return __builtin_bit_cast(float, i); }
inline int32_t floatToBits(float f) { return __builtin_bit_cast(int32_t, f); }

// exp(x), Cephes polynomial after x = n·ln2 + r (relative error ~1e-7); vectorises (no libm call).
inline float vexp(float x) {
  float xc = minf(maxf(x, -87.3f), 88.3f);
  float n = floorf(xc * 1.44269504088896341f + 0.5f);
  float r = xc - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500E-4f;
  p = p * r + 1.3981999507E-3f;
  p = p * r + 8.3334519073E-3f;
  p = p * r + 4.1665795894E-2f;
  p = p * r + 1.6666665459E-1f;
  p = p * r + 5.0000001201E-1f;
  p = p * r * r + r + 1.0f;
  float scale = bitsToFloat(((int32_t)n + 127) << 23);
  float y = p * scale;
  return x < -87.3f ? 0.0f : (x > 88.72f ? INFINITY : y);
}

// log(x), Cephes logf (relative error ~1e-7); log(0) = -inf, log(<0) = NaN.
inline float vlog(float x) {
  int32_t bits = floatToBits(x);
  float e = (float)(((bits >> 23) & 0xff) - 126);
  float m = bitsToFloat((bits & 0x807fffff) | 0x3f000000);  // m in [0.5, 1)
  bool small = m < 0.707106781186547524f;
  e = small ? e - 1.0f : e;
  m = small ? m + m - 1.0f : m - 1.0f;
  float z = m * m;
  float y = 7.0376836292E-2f;
  y = y * m - 1.1514610310E-1f;
  y = y * m + 1.1676998740E-1f;
  y = y * m - 1.2420140846E-1f;
  y = y * m + 1.4249322787E-1f;
  y = y * m - 1.6668057665E-1f;
  y = y * m + 2.0000714765E-1f;
  y = y * m - 2.4999993993E-1f;
  y = y * m + 3.3333331174E-1f;
  y = y * m * z;
  y += e * -2.12194440e-4f;
  y -= 0.5f * z;
  float r = m + y + e * 0.693359375f;
  r = x == INFINITY ? INFINITY : r;
  r = x == 0.0f ? -INFINITY : r;
  return x < 0.0f || x != x ? NAN : r;
}

// erf(x), Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7).
inline float verf(float x) {
  float ax = fabsf(x);
  float t = 1.0f / (1.0f + 0.3275911f * ax);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  float y = 1.0f - p * t * vexp(-ax * ax);
  return x < 0.0f ? -y : y;
}

inline float vtanh(float x) {
  float t = vexp(-2.0f * fabsf(x));
  float y = (1.0f - t) / (1.0f + t);
  return x < 0.0f ? -y : y;
}

inline float vsigmoid(float x) { return 1.0f / (1.0f + vexp(-x)); }

// Split [0, n) over the OpenMP threads when each gets at least `grain` items, else run inline.
template <class F>
inline void parallelFor(int64_t n, int64_t grain, F f) {
  int64_t want = grain > 0 ? n / grain : n;
  int64_t T = omp_get_max_threads();
  if (want > T) want = T;
  if (want <= 1) {
    f((int64_t)0, n);
    return;
  }
#pragma omp parallel num_threads((int)want)
  {
    int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    f(n * t / nt, n * (t + 1) / nt);
  }
}

// ---------------------------------------------------------------- matmul

void matmul(const float* A, const float* B, float* C, int batchA, int batchB, int M, int N, int K, bool tA,
            bool tB) {
  int batch = batchA > batchB ? batchA : batchB;
  if (batchB == 1 && !tA && batchA > 1) {  // shared right operand: fold the batch into the rows (one GEMM)
    M *= batchA;
    batch = batchA = 1;
  }
  if (M == 0 || N == 0) return;  // empty output (BLAS would reject the leading dimensions)
  if (K == 0) {
    memset(C, 0, sizeof(float) * (size_t)batch * M * N);
    return;
  }
  int lda = tA ? M : K, ldb = tB ? K : N;
  for (int b = 0; b < batch; b++) {
    cblas_sgemm(CblasRowMajor, tA ? CblasTrans : CblasNoTrans, tB ? CblasTrans : CblasNoTrans, M, N, K, 1.0f,
                A + (size_t)(b % batchA) * M * K, lda, B + (size_t)(b % batchB) * K * N, ldb, 0.0f,
                C + (size_t)b * M * N, N);
  }
}

// ---------------------------------------------------------------- elementwise

#define MT_BIN_LOOP(EXPR)                                          \
  if (sa == 1 && sb == 1) {                                        \
    for (int64_t i = 0; i < n; i++) {                              \
      float x = a[i], y = b[i];                                    \
      o[i] = (EXPR);                                               \
    }                                                              \
  } else if (sa == 1 && sb == 0) {                                 \
    const float y = b[0];                                          \
    for (int64_t i = 0; i < n; i++) {                              \
      float x = a[i];                                              \
      o[i] = (EXPR);                                               \
    }                                                              \
  } else if (sa == 0 && sb == 1) {                                 \
    const float x = a[0];                                          \
    for (int64_t i = 0; i < n; i++) {                              \
      float y = b[i];                                              \
      o[i] = (EXPR);                                               \
    }                                                              \
  } else {                                                         \
    for (int64_t i = 0; i < n; i++) {                              \
      float x = a[i * sa], y = b[i * sb];                          \
      o[i] = (EXPR);                                               \
    }                                                              \
  }

void binaryInner(int op, const float* a, int64_t sa, const float* b, int64_t sb, float* o, int64_t n) {
  switch (op) {
    case mt::kAdd: MT_BIN_LOOP(x + y); break;
    case mt::kSub: MT_BIN_LOOP(x - y); break;
    case mt::kMul: MT_BIN_LOOP(x * y); break;
    case mt::kDiv: MT_BIN_LOOP(x / y); break;
    case mt::kMax: MT_BIN_LOOP(x > y || x != x ? x : y); break;
    case mt::kMin: MT_BIN_LOOP(x < y || x != x ? x : y); break;
    case mt::kSquaredDiff: MT_BIN_LOOP((x - y) * (x - y)); break;
    case mt::kPow: MT_BIN_LOOP(powf(x, y)); break;
    default: abort();
  }
}

void binary(int op, const float* a, const float* b, float* out, int rank, const int64_t* shape, const int64_t* as,
            const int64_t* bs) {
  // Collapse: drop size-1 dims, merge neighbours that are contiguous for both operands.
  int64_t sh[8], sa[8], sb[8];
  int r = 0;
  for (int i = 0; i < rank; i++) {
    if (shape[i] == 1) continue;
    if (r > 0 && sa[r - 1] == as[i] * shape[i] && sb[r - 1] == bs[i] * shape[i]) {
      sh[r - 1] *= shape[i];
      sa[r - 1] = as[i];
      sb[r - 1] = bs[i];
    } else {
      sh[r] = shape[i];
      sa[r] = as[i];
      sb[r] = bs[i];
      r++;
    }
  }
  if (r == 0) {
    sh[0] = 1;
    sa[0] = sb[0] = 1;
    r = 1;
  }
  const int64_t inner = sh[r - 1], isa = sa[r - 1], isb = sb[r - 1];
  int64_t outer = 1;
  for (int i = 0; i < r - 1; i++) outer *= sh[i];
  if (outer == 1) {
    parallelFor(inner, 1 << 15, [&](int64_t lo, int64_t hi) {
      binaryInner(op, a + lo * isa, isa, b + lo * isb, isb, out + lo, hi - lo);
    });
    return;
  }
  int64_t grain = (1 << 15) / inner;
  parallelFor(outer, grain < 1 ? 1 : grain, [&](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; o++) {
      int64_t rem = o, ao = 0, bo = 0;
      for (int d = r - 2; d >= 0; d--) {
        int64_t c = rem % sh[d];
        rem /= sh[d];
        ao += c * sa[d];
        bo += c * sb[d];
      }
      binaryInner(op, a + ao, isa, b + bo, isb, out + o * inner, inner);
    }
  });
}

void unaryRange(int op, const float* x, float* o, int64_t n, float alpha) {
  switch (op) {
    case mt::kExp: for (int64_t i = 0; i < n; i++) o[i] = vexp(x[i]); break;
    case mt::kLog: for (int64_t i = 0; i < n; i++) o[i] = vlog(x[i]); break;
    case mt::kNeg: for (int64_t i = 0; i < n; i++) o[i] = -x[i]; break;
    case mt::kSqrt: for (int64_t i = 0; i < n; i++) o[i] = sqrtf(x[i]); break;
    case mt::kRsqrt: for (int64_t i = 0; i < n; i++) o[i] = 1.0f / sqrtf(x[i]); break;
    case mt::kSquare: for (int64_t i = 0; i < n; i++) o[i] = x[i] * x[i]; break;
    case mt::kAbs: for (int64_t i = 0; i < n; i++) o[i] = fabsf(x[i]); break;
    case mt::kRelu: for (int64_t i = 0; i < n; i++) o[i] = x[i] < 0.0f ? 0.0f : x[i]; break;
    case mt::kSigmoid: for (int64_t i = 0; i < n; i++) o[i] = vsigmoid(x[i]); break;
    case mt::kTanh: for (int64_t i = 0; i < n; i++) o[i] = vtanh(x[i]); break;
    case mt::kErf: for (int64_t i = 0; i < n; i++) o[i] = verf(x[i]); break;
    case mt::kReciprocal: for (int64_t i = 0; i < n; i++) o[i] = 1.0f / x[i]; break;
    case mt::kGelu:
      for (int64_t i = 0; i < n; i++) o[i] = 0.5f * x[i] * (1.0f + verf(x[i] * 0.70710678118654752f));
      break;
    case mt::kStep: for (int64_t i = 0; i < n; i++) o[i] = x[i] > 0.0f ? 1.0f : (x[i] != x[i] ? x[i] : alpha); break;
    case mt::kLog1p: for (int64_t i = 0; i < n; i++) o[i] = log1pf(x[i]); break;
    case mt::kSign:
      for (int64_t i = 0; i < n; i++) o[i] = x[i] > 0.0f ? 1.0f : (x[i] < 0.0f ? -1.0f : 0.0f);
      break;
    case mt::kFloor: for (int64_t i = 0; i < n; i++) o[i] = floorf(x[i]); break;
    case mt::kElu: for (int64_t i = 0; i < n; i++) o[i] = x[i] >= 0.0f ? x[i] : vexp(x[i]) - 1.0f; break;
    case mt::kSoftplus: for (int64_t i = 0; i < n; i++) o[i] = log1pf(expf(-fabsf(x[i]))) + maxf(x[i], 0.0f); break;
    case mt::kExpm1: for (int64_t i = 0; i < n; i++) o[i] = expm1f(x[i]); break;
    case mt::kLeakyRelu: for (int64_t i = 0; i < n; i++) o[i] = x[i] < 0.0f ? alpha * x[i] : x[i]; break;
    default: abort();
  }
}

void unary(int op, const float* x, float* out, size_t n, float alpha) {
  parallelFor((int64_t)n, 1 << 15, [&](int64_t lo, int64_t hi) { unaryRange(op, x + lo, out + lo, hi - lo, alpha); });
}

void geluBwd(const float* x, const float* dy, float* dx, size_t n) {
  parallelFor((int64_t)n, 1 << 14, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
      float v = x[i];
      float cdf = 0.5f * (1.0f + verf(v * 0.70710678118654752f));
      float pdf = 0.3989422804014327f * vexp(-0.5f * v * v);
      dx[i] = dy[i] * (cdf + v * pdf);
    }
  });
}

// ---------------------------------------------------------------- reductions

float reduceRow(int op, const float* x, int64_t n) {
  switch (op) {
    case mt::kSum:
    case mt::kMean: {
      double s = 0.0;  // double accumulation, like the JS cpu kernels (JS numbers)
      for (int64_t i = 0; i < n; i++) s += x[i];
      return (float)(op == mt::kMean ? s / (double)n : s);
    }
    case mt::kMaxR: {
      float m = -INFINITY;
      #pragma omp simd reduction(max:m)
      for (int64_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
      for (int64_t i = 0; i < n; i++)
        if (x[i] != x[i]) return x[i];
      return m;
    }
    case mt::kMinR: {
      float m = INFINITY;
      #pragma omp simd reduction(min:m)
      for (int64_t i = 0; i < n; i++) m = x[i] < m ? x[i] : m;
      for (int64_t i = 0; i < n; i++)
        if (x[i] != x[i]) return x[i];
      return m;
    }
    case mt::kProd: {
      double p = 1.0;
      for (int64_t i = 0; i < n; i++) p *= x[i];
      return (float)p;
    }
    default: abort();
  }
}

void reduceInner(int op, const float* x, float* out, size_t outer, size_t inner) {
  if (outer == 1 && inner >= (1 << 16) && op != mt::kProd) {  // one long row: partial results per thread
    float part[64];
    int T = omp_get_max_threads();
    if (T > 64) T = 64;
    int usedT = 1;
    parallelFor((int64_t)T, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; t++) {
        int64_t a = (int64_t)inner * t / T, b = (int64_t)inner * (t + 1) / T;
        part[t] = reduceRow(op == mt::kMean ? mt::kSum : op, x + a, b - a);
      }
    });
    usedT = T;
    float r = reduceRow(op == mt::kMean ? mt::kSum : op, part, usedT);
    out[0] = op == mt::kMean ? r / (float)inner : r;
    return;
  }
  int64_t grain = (1 << 15) / (int64_t)(inner ? inner : 1);
  parallelFor((int64_t)outer, grain < 1 ? 1 : grain, [&](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; o++) out[o] = reduceRow(op, x + o * inner, inner);
  });
}

void sumOuter(const float* x, float* out, size_t outer, size_t inner) {
  parallelFor((int64_t)inner, 64, [&](int64_t lo, int64_t hi) {
    float* o = out + lo;
    int64_t w = hi - lo;
    for (int64_t j = 0; j < w; j++) o[j] = 0.0f;
    for (size_t r = 0; r < outer; r++) {
      const float* row = x + r * inner + lo;
      for (int64_t j = 0; j < w; j++) o[j] += row[j];
    }
  });
}

void softmaxRow(const float* x, float* o, int64_t n, bool logSoftmax) {
  float m = -INFINITY;
  #pragma omp simd reduction(max:m)
  for (int64_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
  float s = 0.0f;
  #pragma omp simd reduction(+:s)
  for (int64_t i = 0; i < n; i++) {
    float e = vexp(x[i] - m);
    o[i] = e;
    s += e;
  }
  if (logSoftmax) {
    float l = m + vlog(s);
    for (int64_t i = 0; i < n; i++) o[i] = x[i] - l;
  } else {
    float inv = 1.0f / s;
    for (int64_t i = 0; i < n; i++) o[i] *= inv;
  }
}

void softmax(const float* x, float* out, size_t rows, size_t cols, bool logSoftmax) {
  int64_t grain = (1 << 14) / (int64_t)(cols ? cols : 1);
  parallelFor((int64_t)rows, grain < 1 ? 1 : grain, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; r++) softmaxRow(x + r * cols, out + r * cols, cols, logSoftmax);
  });
}

// ---------------------------------------------------------------- layout

void transpose(const void* xv, void* ov, int rank, const int64_t* shape, const int* perm) {
  const uint32_t* x = (const uint32_t*)xv;
  uint32_t* out = (uint32_t*)ov;
  // Collapse runs of input dims that stay adjacent and in order in the output, and drop size-1 dims.
  int64_t inShape[8];
  int newIndex[8];  // input dim → collapsed dim id (or -1 when dropped)
  int keep[8], nk = 0;
  for (int i = 0; i < rank; i++) newIndex[i] = -1;
  // walk the output order; start a new group unless the previous output dim is the previous input dim
  int groupOf[8], ng = 0;
  int prevIn = -2;
  for (int j = 0; j < rank; j++) {
    int d = perm[j];
    if (shape[d] == 1) continue;
    if (prevIn >= 0 && d == prevIn + 1) {
      // the input dims between prevIn and d are all size-1 or d follows directly
      groupOf[d] = ng - 1;
    } else {
      bool contiguous = prevIn >= 0 && d > prevIn;
      for (int q = prevIn + 1; contiguous && q < d; q++)
        if (shape[q] != 1) contiguous = false;
      if (contiguous) {
        groupOf[d] = ng - 1;
      } else {
        groupOf[d] = ng++;
      }
    }
    prevIn = d;
    keep[nk++] = d;
  }
  if (ng == 0) {
    out[0] = x[0];
    return;
  }
  // group sizes, and group order in the input
  int64_t gsize[8];
  int gFirstIn[8];
  for (int g = 0; g < ng; g++) {
    gsize[g] = 1;
    gFirstIn[g] = 99;
  }
  for (int q = 0; q < nk; q++) {
    int d = keep[q];
    gsize[groupOf[d]] *= shape[d];
    if (d < gFirstIn[groupOf[d]]) gFirstIn[groupOf[d]] = d;
  }
  // input strides of each group: groups sorted by their first input dim
  int64_t gInStride[8];
  for (int g = 0; g < ng; g++) {
    int64_t s = 1;
    for (int h = 0; h < ng; h++)
      if (gFirstIn[h] > gFirstIn[g]) s *= gsize[h];
    gInStride[g] = s;
  }
  (void)inShape;
  (void)newIndex;
  // output order of groups is 0..ng-1
  int64_t total = 1;
  for (int g = 0; g < ng; g++) total *= gsize[g];
  if (ng == 1) {
    memcpy(out, x, sizeof(uint32_t) * total);
    return;
  }
  const int64_t inner = gsize[ng - 1];
  const int64_t innerStride = gInStride[ng - 1];
  if (innerStride == 1) {  // innermost output run is contiguous in the input: row copies
    int64_t rows = total / inner;
    parallelFor(rows, (1 << 14) / inner + 1, [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; r++) {
        int64_t rem = r, off = 0;
        for (int g = ng - 2; g >= 0; g--) {
          off += (rem % gsize[g]) * gInStride[g];
          rem /= gsize[g];
        }
        memcpy(out + r * inner, x + off, sizeof(uint32_t) * inner);
      }
    });
    return;
  }
  // Innermost output dim is strided in the input: tile over (second-innermost output group that is the
  // input's innermost, innermost output group) so both reads and writes stay in cache.
  int gIn = -1;  // group that is innermost in the input (stride 1)
  for (int g = 0; g < ng; g++)
    if (gInStride[g] == 1) gIn = g;
  const int64_t TB = 32;
  // iterate over all other groups (outer), then tiles of (gIn, ng-1)
  int64_t outerCount = total / (inner * gsize[gIn]);
  int64_t outStrideG[8];
  {
    int64_t s = 1;
    for (int g = ng - 1; g >= 0; g--) {
      outStrideG[g] = s;
      s *= gsize[g];
    }
  }
  parallelFor(outerCount, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t oc = lo; oc < hi; oc++) {
      int64_t rem = oc, inOff = 0, outOff = 0;
      for (int g = ng - 2; g >= 0; g--) {
        if (g == gIn) continue;
        int64_t c = rem % gsize[g];
        rem /= gsize[g];
        inOff += c * gInStride[g];
        outOff += c * outStrideG[g];
      }
      const int64_t A = gsize[gIn], Bn = inner;
      const int64_t outA = outStrideG[gIn];  // output stride of gIn; output stride of the inner group is 1
      for (int64_t a0 = 0; a0 < A; a0 += TB)
        for (int64_t b0 = 0; b0 < Bn; b0 += TB) {
          int64_t a1 = mini(a0 + TB, A), b1 = mini(b0 + TB, Bn);
          for (int64_t a = a0; a < a1; a++)
            for (int64_t bb = b0; bb < b1; bb++) out[outOff + a * outA + bb] = x[inOff + a + bb * innerStride];
        }
    }
  });
}

void gatherRows(const float* x, const int32_t* idx, float* out, size_t n, size_t rows, size_t cols) {
  parallelFor((int64_t)n, (1 << 14) / (int64_t)(cols + 1) + 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
      int32_t r = idx[i];
      if (r >= 0 && (size_t)r < rows)
        memcpy(out + i * cols, x + (size_t)r * cols, sizeof(float) * cols);
      else
        memset(out + i * cols, 0, sizeof(float) * cols);
    }
  });
}

void segmentSumRows(const float* x, const int32_t* idx, float* out, size_t n, size_t numSegments, size_t cols) {
  memset(out, 0, sizeof(float) * numSegments * cols);
  // split the columns over threads so no two threads touch the same output element
  parallelFor((int64_t)cols, 64, [&](int64_t lo, int64_t hi) {
    for (size_t i = 0; i < n; i++) {
      int32_t s = idx[i];
      if (s < 0 || (size_t)s >= numSegments) continue;
      float* o = out + (size_t)s * cols;
      const float* r = x + i * cols;
      for (int64_t j = lo; j < hi; j++) o[j] += r[j];
    }
  });
}

void addN(const float* const* xs, int k, float* out, size_t n) {
  parallelFor((int64_t)n, 1 << 15, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) out[i] = xs[0][i];
    for (int j = 1; j < k; j++) {
      const float* s = xs[j];
      for (int64_t i = lo; i < hi; i++) out[i] += s[i];
    }
  });
}

void copyBox(const void* srcv, const int64_t* srcShape, const int64_t* srcOff, void* dstv, const int64_t* dstShape,
             const int64_t* dstOff, const int64_t* box, int rank) {
  const uint32_t* src = (const uint32_t*)srcv;
  uint32_t* dst = (uint32_t*)dstv;
  // strides, then merge trailing dims that the box covers fully in both arrays (longer contiguous runs)
  int64_t ss[8], ds[8];
  {
    int64_t a = 1, b = 1;
    for (int d = rank - 1; d >= 0; d--) {
      ss[d] = a;
      ds[d] = b;
      a *= srcShape[d];
      b *= dstShape[d];
    }
  }
  int64_t base0 = 0, base1 = 0;
  for (int d = 0; d < rank; d++) {
    base0 += srcOff[d] * ss[d];
    base1 += dstOff[d] * ds[d];
  }
  int inner = rank - 1;
  int64_t run = box[rank - 1];
  while (inner > 0 && box[inner] == srcShape[inner] && box[inner] == dstShape[inner]) {
    inner--;
    run *= box[inner];
  }
  // dims [0, inner) are iterated; dim `inner` and everything after it form one contiguous run
  int64_t rows = 1;
  for (int d = 0; d < inner; d++) rows *= box[d];
  if (run == 0 || rows == 0) return;
  parallelFor(rows, (1 << 14) / run + 1, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; r++) {
      int64_t rem = r, so = base0, dof = base1;
      for (int d = inner - 1; d >= 0; d--) {
        int64_t c = rem % box[d];
        rem /= box[d];
        so += c * ss[d];
        dof += c * ds[d];
      }
      memcpy(dst + dof, src + so, sizeof(uint32_t) * run);
    }
  });
}

// ---------------------------------------------------------------- fused: layer norm

void layerNormFwd(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                  size_t rows, size_t cols, float eps) {
  parallelFor((int64_t)rows, (1 << 13) / (int64_t)(cols + 1) + 1, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; r++) {
      const float* xr = x + r * cols;
      float* yr = y + r * cols;
      float s = 0.0f;
      for (size_t j = 0; j < cols; j++) s += xr[j];
      float mu = s / (float)cols;
      float v = 0.0f;
      for (size_t j = 0; j < cols; j++) v += (xr[j] - mu) * (xr[j] - mu);
      float rs = 1.0f / sqrtf(v / (float)cols + eps);
      for (size_t j = 0; j < cols; j++) yr[j] = (xr[j] - mu) * rs * gamma[j] + beta[j];
      mean[r] = mu;
      rstd[r] = rs;
    }
  });
}

void layerNormBwd(const float* x, const float* gamma, const float* mean, const float* rstd, const float* dy,
                  float* dx, float* dgamma, float* dbeta, size_t rows, size_t cols) {
  int T = omp_get_max_threads();
  float* part = (float*)calloc((size_t)T * 2 * cols, sizeof(float));  // per-thread dgamma, dbeta
  int64_t grain = (1 << 13) / (int64_t)(cols + 1) + 1;
  int64_t want = (int64_t)rows / grain;
  if (want < 1) want = 1;
  if (want > T) want = T;
#pragma omp parallel num_threads((int)want)
  {
    int t = omp_get_thread_num(), nt = omp_get_num_threads();
    int64_t lo = (int64_t)rows * t / nt, hi = (int64_t)rows * (t + 1) / nt;
    float* dg = part + (size_t)t * 2 * cols;
    float* db = dg + cols;
    for (int64_t r = lo; r < hi; r++) {
      const float* xr = x + r * cols;
      const float* dyr = dy + r * cols;
      float* dxr = dx + r * cols;
      float mu = mean[r], rs = rstd[r];
      float sg = 0.0f, sgx = 0.0f;
      for (size_t j = 0; j < cols; j++) {
        float xh = (xr[j] - mu) * rs;
        float g = dyr[j] * gamma[j];
        sg += g;
        sgx += g * xh;
        dg[j] += dyr[j] * xh;
        db[j] += dyr[j];
      }
      float mg = sg / (float)cols, mgx = sgx / (float)cols;
      for (size_t j = 0; j < cols; j++) {
        float xh = (xr[j] - mu) * rs;
        dxr[j] = rs * (dyr[j] * gamma[j] - mg - xh * mgx);
      }
    }
  }
  for (size_t j = 0; j < cols; j++) {
    float g = 0.0f, b = 0.0f;
    for (int t = 0; t < want; t++) {
      g += part[(size_t)t * 2 * cols + j];
      b += part[(size_t)t * 2 * cols + cols + j];
    }
    dgamma[j] = g;
    dbeta[j] = b;
  }
  free(part);
}

// ---------------------------------------------------------------- fused: causal attention
// One (batch, head) per task; S = q kᵀ·scale is T×T and lives in a per-thread buffer. The GEMMs run
// single-threaded inside the parallel loop (OpenBLAS threads are set to 1 around it by the caller).

// Causal block size: the GEMMs run per block of 64 query rows (or key columns) over only the keys (queries)
// that block can see, so the blocks above the diagonal (~3/8 of the T×T work at T 256) are skipped.
static const int kAttnBlock = 64;

void attentionFwd(const float* q, const float* k, const float* v, float* out, float* lse, int BH, int T, int D,
                  float scale) {
  parallelFor(BH, 1, [&](int64_t lo, int64_t hi) {
    float* S = (float*)malloc(sizeof(float) * (size_t)T * T);
    for (int64_t bh = lo; bh < hi; bh++) {
      const float* qb = q + bh * T * D;
      const float* kb = k + bh * T * D;
      const float* vb = v + bh * T * D;
      // causal: row block [r0, r1) only needs keys [0, r1); blocks above the diagonal are never computed
      for (int r0 = 0; r0 < T; r0 += kAttnBlock) {
        int r1 = r0 + kAttnBlock < T ? r0 + kAttnBlock : T;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, D, scale, qb + (size_t)r0 * D, D, kb, D, 0.0f,
                    S + (size_t)r0 * T, T);
      }
      for (int i = 0; i < T; i++) {
        float* s = S + (size_t)i * T;
        float m = -INFINITY;
        #pragma omp simd reduction(max:m)
        for (int j = 0; j <= i; j++) m = s[j] > m ? s[j] : m;
        float sum = 0.0f;
        #pragma omp simd reduction(+:sum)
        for (int j = 0; j <= i; j++) {
          float e = vexp(s[j] - m);
          s[j] = e;
          sum += e;
        }
        float inv = 1.0f / sum;
        for (int j = 0; j <= i; j++) s[j] *= inv;
        for (int j = i + 1; j < T; j++) s[j] = 0.0f;
        lse[bh * T + i] = m + vlog(sum);
      }
      for (int r0 = 0; r0 < T; r0 += kAttnBlock) {  // out[r0:r1] = S[r0:r1, 0:r1] v[0:r1] (the rest of S is 0)
        int r1 = r0 + kAttnBlock < T ? r0 + kAttnBlock : T;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, D, r1, 1.0f, S + (size_t)r0 * T, T, vb, D, 0.0f,
                    out + bh * T * D + (size_t)r0 * D, D);
      }
    }
    free(S);
  });
}

void attentionBwd(const float* q, const float* k, const float* v, const float* out, const float* lse,
                  const float* dout, float* dq, float* dk, float* dv, int BH, int T, int D, float scale) {
  parallelFor(BH, 1, [&](int64_t lo, int64_t hi) {
    float* P = (float*)malloc(sizeof(float) * (size_t)T * T);
    float* dP = (float*)malloc(sizeof(float) * (size_t)T * T);
    float* rowDot = (float*)malloc(sizeof(float) * (size_t)T);
    for (int64_t bh = lo; bh < hi; bh++) {
      size_t off = (size_t)bh * T * D;
      const float *qb = q + off, *kb = k + off, *vb = v + off, *ob = out + off, *dob = dout + off;
      const float* l = lse + (size_t)bh * T;
      // P = exp(q kᵀ·scale − lse), causal
      for (int r0 = 0; r0 < T; r0 += kAttnBlock) {
        int r1 = r0 + kAttnBlock < T ? r0 + kAttnBlock : T;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, D, scale, qb + (size_t)r0 * D, D, kb, D, 0.0f,
                    P + (size_t)r0 * T, T);
      }
      for (int i = 0; i < T; i++) {
        float* p = P + (size_t)i * T;
        float li = l[i];
        for (int j = 0; j <= i; j++) p[j] = vexp(p[j] - li);
        for (int j = i + 1; j < T; j++) p[j] = 0.0f;
        const float* o = ob + (size_t)i * D;
        const float* d = dob + (size_t)i * D;
        float s = 0.0f;
        for (int c = 0; c < D; c++) s += o[c] * d[c];
        rowDot[i] = s;
      }
      // dv = Pᵀ dout
      // (key block [c0, c1) only gets rows c0…T−1: P is 0 above the diagonal)
      for (int c0 = 0; c0 < T; c0 += kAttnBlock) {
        int c1 = c0 + kAttnBlock < T ? c0 + kAttnBlock : T;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c1 - c0, D, T - c0, 1.0f, P + (size_t)c0 * T + c0, T,
                    dob + (size_t)c0 * D, D, 0.0f, dv + off + (size_t)c0 * D, D);
      }
      // dP = dout vᵀ (row block [r0, r1): keys [0, r1) only) ; dS = P ⊙ (dP − rowDot)
      for (int r0 = 0; r0 < T; r0 += kAttnBlock) {
        int r1 = r0 + kAttnBlock < T ? r0 + kAttnBlock : T;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, D, 1.0f, dob + (size_t)r0 * D, D, vb, D, 0.0f,
                    dP + (size_t)r0 * T, T);
      }
      for (int i = 0; i < T; i++) {
        float* p = P + (size_t)i * T;
        const float* g = dP + (size_t)i * T;
        float r = rowDot[i];
        for (int j = 0; j <= i; j++) p[j] = p[j] * (g[j] - r);
      }
      // dq = dS k·scale ; dk = dSᵀ q·scale
      for (int b0 = 0; b0 < T; b0 += kAttnBlock) {
        int b1 = b0 + kAttnBlock < T ? b0 + kAttnBlock : T;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b1 - b0, D, b1, scale, P + (size_t)b0 * T, T, kb, D, 0.0f,
                    dq + off + (size_t)b0 * D, D);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, b1 - b0, D, T - b0, scale, P + (size_t)b0 * T + b0, T,
                    qb + (size_t)b0 * D, D, 0.0f, dk + off + (size_t)b0 * D, D);
      }
    }
    free(rowDot);
    free(dP);
    free(P);
  });
}

// ---------------------------------------------------------------- fused: rotary embedding

void rotary(const float* x, const float* cs, const float* sn, float* y, size_t rows, int T, int hs, int r,
            bool transpose) {
  const int h = r / 2;
  parallelFor((int64_t)rows, (1 << 13) / (hs + 1) + 1, [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; row++) {
      const float* xr = x + row * hs;
      float* yr = y + row * hs;
      const float* c = cs + (row % T) * r;
      const float* s = sn + (row % T) * r;
      if (!transpose) {  // rotate_half(x) = [-x2, x1]
        for (int i = 0; i < h; i++) {
          yr[i] = xr[i] * c[i] - xr[i + h] * s[i];
          yr[i + h] = xr[i + h] * c[i + h] + xr[i] * s[i + h];
        }
      } else {  // rotate_halfᵀ(z) = [z2, -z1]
        for (int i = 0; i < h; i++) {
          yr[i] = xr[i] * c[i] + xr[i + h] * s[i + h];
          yr[i + h] = xr[i + h] * c[i + h] - xr[i] * s[i];
        }
      }
      for (int i = r; i < hs; i++) yr[i] = xr[i];
    }
  });
}

// ---------------------------------------------------------------- fused: cross-entropy

void crossEntropyFwd(const float* logits, const int32_t* labels, float* rowLoss, float* lse, size_t N, size_t V) {
  parallelFor((int64_t)N, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
      const float* x = logits + i * V;
      float m = -INFINITY;
      #pragma omp simd reduction(max:m)
      for (size_t j = 0; j < V; j++) m = x[j] > m ? x[j] : m;
      float s = 0.0f;
      #pragma omp simd reduction(+:s)
      for (size_t j = 0; j < V; j++) s += vexp(x[j] - m);
      float l = m + vlog(s);
      lse[i] = l;
      int32_t y = labels[i];
      rowLoss[i] = (y >= 0 && (size_t)y < V) ? l - x[y] : 0.0f;
    }
  });
}

void crossEntropyBwd(const float* logits, const int32_t* labels, const float* lse, const float* rowScale,
                     float* dlogits, size_t N, size_t V) {
  parallelFor((int64_t)N, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
      const float* x = logits + i * V;
      float* d = dlogits + i * V;
      float sc = rowScale[i], l = lse[i];
      if (sc == 0.0f) {
        memset(d, 0, sizeof(float) * V);
        continue;
      }
      for (size_t j = 0; j < V; j++) d[j] = vexp(x[j] - l) * sc;
      int32_t y = labels[i];
      if (y >= 0 && (size_t)y < V) d[y] -= sc;
    }
  });
}

// ---------------------------------------------------------------- fused: AdamW

void adamw(float* p, float* m, float* v, const float* g, size_t n, float lr, float beta1, float beta2, float eps,
           float weightDecay, float bc1, float bc2, float gradScale) {
  const float decay = 1.0f - lr * weightDecay;
  const float stepSize = lr / bc1;
  const float rbc2 = 1.0f / sqrtf(bc2);
  parallelFor((int64_t)n, 1 << 14, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
      float gi = g[i] * gradScale;
      float mi = beta1 * m[i] + (1.0f - beta1) * gi;
      float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] = p[i] * decay - stepSize * mi / (sqrtf(vi) * rbc2 + eps);
    }
  });
}

const Kernels kTable = {
    MT_STR(MT_ISA), matmul, binary, unary, geluBwd, reduceInner, sumOuter, softmax, transpose, gatherRows,
    segmentSumRows, addN, copyBox, layerNormFwd, layerNormBwd, attentionFwd, attentionBwd, rotary, crossEntropyFwd,
    crossEntropyBwd, adamw,
};

}  // namespace

extern "C" const mt::Kernels* MT_CAT(mt_kernels_, MT_ISA)() { return &kTable; }
