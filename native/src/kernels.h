// Plain C++ CPU kernels behind the 'native' tfjs backend (addon.cc binds them to N-API).
// Dense row-major float32 tensors, int32 indices. kernels.cc is compiled once per ISA (generic x86-64,
// AVX2+FMA, AVX-512) into a table of function pointers; addon.cc picks the table the CPU supports at load
// time, so one build runs on any x86-64 and uses the widest vectors available.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mt {

enum BinaryOp { kAdd = 0, kSub, kMul, kDiv, kMax, kMin, kSquaredDiff, kPow };
enum UnaryOp {
  kExp = 0, kLog, kNeg, kSqrt, kRsqrt, kSquare, kAbs, kRelu, kSigmoid, kTanh, kErf, kReciprocal,
  kGelu, kStep, kLog1p, kSign, kFloor, kElu, kSoftplus, kExpm1, kLeakyRelu, kGeluGrad
};
enum ReduceOp { kSum = 0, kMaxR, kMinR, kMean, kProd };

struct Kernels {
  const char* isa;
  // C[b] = op(A[b % batchA]) · op(B[b % batchB]) for b < max(batchA, batchB); C is [batch, M, N].
  void (*matmul)(const float* A, const float* B, float* C, int batchA, int batchB, int M, int N, int K,
                 bool transA, bool transB);
  // out = a op b with broadcasting: element strides (0 on broadcast dims) over outShape (rank <= 8).
  void (*binary)(int op, const float* a, const float* b, float* out, int rank, const int64_t* outShape,
                 const int64_t* aStrides, const int64_t* bStrides);
  void (*unary)(int op, const float* x, float* out, size_t n, float alpha);
  // GELU (exact, erf form) backward: dx = dy * gelu'(x).
  void (*geluBwd)(const float* x, const float* dy, float* dx, size_t n);
  // Reduce [outer, inner] over inner → [outer].
  void (*reduceInner)(int op, const float* x, float* out, size_t outer, size_t inner);
  // Sum [outer, inner] over outer → [inner].
  void (*sumOuter)(const float* x, float* out, size_t outer, size_t inner);
  void (*softmax)(const float* x, float* out, size_t rows, size_t cols, bool logSoftmax);
  // Transpose of 4-byte elements, rank <= 8.
  void (*transpose)(const void* x, void* out, int rank, const int64_t* shape, const int* perm);
  // out[i, :] = x[idx[i], :]; out-of-range indices give zero rows.
  void (*gatherRows)(const float* x, const int32_t* idx, float* out, size_t n, size_t rows, size_t cols);
  // out[idx[i], :] += x[i, :] over a zeroed out [numSegments, cols]; out-of-range ids are dropped.
  void (*segmentSumRows)(const float* x, const int32_t* idx, float* out, size_t n, size_t numSegments,
                         size_t cols);
  void (*addN)(const float* const* xs, int k, float* out, size_t n);
  // Copy a box of 4-byte elements: dst[dstOff + i] = src[srcOff + i] for i in box (rank <= 8). Serves slice,
  // pad, concat and split (each a box copy between differently shaped arrays).
  void (*copyBox)(const void* src, const int64_t* srcShape, const int64_t* srcOff, void* dst, const int64_t* dstShape,
                  const int64_t* dstOff, const int64_t* box, int rank);

  // Fused kernels: layer norm over the last axis (saves mean, rstd per row).
  void (*layerNormFwd)(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                       size_t rows, size_t cols, float eps);
  void (*layerNormBwd)(const float* x, const float* gamma, const float* mean, const float* rstd, const float* dy,
                       float* dx, float* dgamma, float* dbeta, size_t rows, size_t cols);
  // Causal attention on [BH, T, D]: out = softmax(q kᵀ·scale + causal mask) v; saves row log-sum-exp.
  void (*attentionFwd)(const float* q, const float* k, const float* v, float* out, float* lse, int BH, int T, int D,
                       float scale);
  void (*attentionBwd)(const float* q, const float* k, const float* v, const float* out, const float* lse,
                       const float* dout, float* dq, float* dk, float* dv, int BH, int T, int D, float scale);
  // Rotary embedding (GPT-NeoX rotate-half form) on rows of x [rows, hs] whose position is (row % T):
  // y[:r] = x[:r]·cos[t] + rotate_half(x[:r])·sin[t], y[r:] = x[r:]; cos/sin are [T, r]. With transpose, applies
  // the adjoint (the gradient): dx[:r] = cos·dy[:r] + rotate_halfᵀ(sin·dy[:r]).
  void (*rotary)(const float* x, const float* cos, const float* sin, float* y, size_t rows, int T, int hs, int r,
                 bool transpose);
  // Cross-entropy of logits [N, V] vs labels (label < 0: row ignored): per-row loss and log-sum-exp.
  void (*crossEntropyFwd)(const float* logits, const int32_t* labels, float* rowLoss, float* lse, size_t N,
                          size_t V);
  // dlogits[i] = (softmax(logits[i]) - onehot(label[i])) * rowScale[i].
  void (*crossEntropyBwd)(const float* logits, const int32_t* labels, const float* lse, const float* rowScale,
                          float* dlogits, size_t N, size_t V);
  // AdamW in place (PyTorch order: decay, then the Adam step); bc1/bc2 = 1 - beta^t.
  void (*adamw)(float* p, float* m, float* v, const float* g, size_t n, float lr, float beta1, float beta2,
                float eps, float weightDecay, float bc1, float bc2, float gradScale);
};

}  // namespace mt

extern "C" {
const mt::Kernels* mt_kernels_generic();
const mt::Kernels* mt_kernels_avx2();
const mt::Kernels* mt_kernels_avx512();
}
