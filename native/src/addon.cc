// N-API binding of the native CPU kernels (kernels.h). Every function takes TypedArrays owned by the
// tfjs cpu-style tensor store plus plain numbers, and writes into a preallocated output array: no copies,
// no allocation on the JS heap here. Bad arguments throw a JS TypeError naming the function and argument.
#include <cblas.h>
#include <node_api.h>
#include <malloc.h>
#include <omp.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "kernels.h"

extern "C" {
// OpenBLAS extensions (declared in its cblas.h; repeated so a reference cblas.h also compiles).
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char* openblas_get_config(void);
char* openblas_get_corename(void);
}

namespace {

const mt::Kernels* K = nullptr;

struct ArgError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads the arguments of one call; throws ArgError with the function name and argument index.
struct Args {
  napi_env env;
  const char* fn;
  size_t argc = 16;
  napi_value argv[16];
  Args(napi_env e, napi_callback_info info, const char* name, size_t need) : env(e), fn(name) {
    napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
    if (argc < need) fail(-1, "expected " + std::to_string(need) + " arguments, got " + std::to_string(argc));
  }
  [[noreturn]] void fail(int i, const std::string& what) const {
    throw ArgError(std::string("midtrain native ") + fn + (i >= 0 ? " argument " + std::to_string(i) : "") + ": " +
                   what);
  }
  void* typed(int i, napi_typedarray_type want1, napi_typedarray_type want2, size_t* len) const {
    bool is = false;
    napi_is_typedarray(env, argv[i], &is);
    if (!is) fail(i, "expected a TypedArray");
    napi_typedarray_type t;
    size_t n;
    void* data;
    napi_value ab;
    size_t off;
    napi_get_typedarray_info(env, argv[i], &t, &n, &data, &ab, &off);
    if (t != want1 && t != want2) fail(i, "wrong TypedArray element type");
    if (len) *len = n;
    return data;
  }
  float* f32(int i, size_t* len = nullptr) const {
    return (float*)typed(i, napi_float32_array, napi_float32_array, len);
  }
  int32_t* i32(int i, size_t* len = nullptr) const {
    return (int32_t*)typed(i, napi_int32_array, napi_int32_array, len);
  }
  void* word32(int i, size_t* len = nullptr) const {  // any 4-byte element array (float32 or int32)
    return typed(i, napi_float32_array, napi_int32_array, len);
  }
  double num(int i) const {
    double d;
    if (napi_get_value_double(env, argv[i], &d) != napi_ok) fail(i, "expected a number");
    return d;
  }
  int64_t integer(int i) const { return (int64_t)num(i); }
  bool flag(int i) const {
    bool b;
    if (napi_get_value_bool(env, argv[i], &b) != napi_ok) fail(i, "expected a boolean");
    return b;
  }
};

void need(const Args& a, int i, size_t have, size_t want) {
  if (have < want)
    a.fail(i, "array too short: " + std::to_string(have) + " < " + std::to_string(want) + " elements");
}

// OpenBLAS runs single-threaded inside our own parallel loops (attention), multi-threaded elsewhere.
struct BlasSingleThread {
  int saved;
  BlasSingleThread() : saved(openblas_get_num_threads()) { openblas_set_num_threads(1); }
  ~BlasSingleThread() { openblas_set_num_threads(saved); }
};

napi_value Matmul(napi_env env, napi_callback_info info) {
  Args a(env, info, "matmul", 10);
  size_t na, nb, nc;
  const float* A = a.f32(0, &na);
  const float* B = a.f32(1, &nb);
  float* C = a.f32(2, &nc);
  int batchA = (int)a.integer(3), batchB = (int)a.integer(4), M = (int)a.integer(5), N = (int)a.integer(6),
      Kd = (int)a.integer(7);
  bool tA = a.flag(8), tB = a.flag(9);
  int batch = batchA > batchB ? batchA : batchB;
  if (batchA != batchB && batchA != 1 && batchB != 1 && batchA % batchB != 0 && batchB % batchA != 0)
    a.fail(3, "batch sizes do not broadcast");
  need(a, 0, na, (size_t)batchA * M * Kd);
  need(a, 1, nb, (size_t)batchB * Kd * N);
  need(a, 2, nc, (size_t)batch * M * N);
  K->matmul(A, B, C, batchA, batchB, M, N, Kd, tA, tB);
  return nullptr;
}

void readShape(const Args& a, int i, int64_t* out, int rank) {
  size_t n;
  const int32_t* s = a.i32(i, &n);
  if ((int)n != rank) a.fail(i, "expected " + std::to_string(rank) + " entries");
  for (int d = 0; d < rank; d++) out[d] = s[d];
}

napi_value Binary(napi_env env, napi_callback_info info) {
  Args a(env, info, "binary", 7);
  int op = (int)a.integer(0);
  if (op < mt::kAdd || op > mt::kPow) a.fail(0, "unknown op");
  size_t na, nb, no, rank;
  const float* x = a.f32(1, &na);
  const float* y = a.f32(2, &nb);
  float* out = a.f32(3, &no);
  a.i32(4, &rank);
  if (rank > 8) a.fail(4, "rank > 8");
  int64_t shape[8], as[8], bs[8];
  readShape(a, 4, shape, (int)rank);
  readShape(a, 5, as, (int)rank);
  readShape(a, 6, bs, (int)rank);
  size_t total = 1, lastA = 0, lastB = 0;
  for (size_t d = 0; d < rank; d++) {
    total *= shape[d];
    if (shape[d] > 0) {
      lastA += (shape[d] - 1) * as[d];
      lastB += (shape[d] - 1) * bs[d];
    }
  }
  need(a, 3, no, total);
  if (total == 0) return nullptr;
  need(a, 1, na, lastA + 1);
  need(a, 2, nb, lastB + 1);
  K->binary(op, x, y, out, (int)rank, shape, as, bs);
  return nullptr;
}

napi_value Unary(napi_env env, napi_callback_info info) {
  Args a(env, info, "unary", 4);
  int op = (int)a.integer(0);
  if (op < mt::kExp || op > mt::kLeakyRelu) a.fail(0, "unknown op");
  size_t nx, no;
  const float* x = a.f32(1, &nx);
  float* out = a.f32(2, &no);
  need(a, 2, no, nx);
  K->unary(op, x, out, nx, (float)a.num(3));
  return nullptr;
}

napi_value GeluBwd(napi_env env, napi_callback_info info) {
  Args a(env, info, "geluBwd", 3);
  size_t nx, nd, no;
  const float* x = a.f32(0, &nx);
  const float* dy = a.f32(1, &nd);
  float* dx = a.f32(2, &no);
  need(a, 1, nd, nx);
  need(a, 2, no, nx);
  K->geluBwd(x, dy, dx, nx);
  return nullptr;
}

napi_value ReduceInner(napi_env env, napi_callback_info info) {
  Args a(env, info, "reduceInner", 5);
  int op = (int)a.integer(0);
  if (op < mt::kSum || op > mt::kProd) a.fail(0, "unknown op");
  size_t nx, no;
  const float* x = a.f32(1, &nx);
  float* out = a.f32(2, &no);
  size_t outer = (size_t)a.integer(3), inner = (size_t)a.integer(4);
  need(a, 1, nx, outer * inner);
  need(a, 2, no, outer);
  K->reduceInner(op, x, out, outer, inner);
  return nullptr;
}

napi_value SumOuter(napi_env env, napi_callback_info info) {
  Args a(env, info, "sumOuter", 4);
  size_t nx, no;
  const float* x = a.f32(0, &nx);
  float* out = a.f32(1, &no);
  size_t outer = (size_t)a.integer(2), inner = (size_t)a.integer(3);
  need(a, 0, nx, outer * inner);
  need(a, 1, no, inner);
  K->sumOuter(x, out, outer, inner);
  return nullptr;
}

napi_value Softmax(napi_env env, napi_callback_info info) {
  Args a(env, info, "softmax", 5);
  size_t nx, no;
  const float* x = a.f32(0, &nx);
  float* out = a.f32(1, &no);
  size_t rows = (size_t)a.integer(2), cols = (size_t)a.integer(3);
  need(a, 0, nx, rows * cols);
  need(a, 1, no, rows * cols);
  K->softmax(x, out, rows, cols, a.flag(4));
  return nullptr;
}

napi_value Transpose(napi_env env, napi_callback_info info) {
  Args a(env, info, "transpose", 4);
  size_t nx, no, rank, np;
  const void* x = a.word32(0, &nx);
  void* out = a.word32(1, &no);
  a.i32(2, &rank);
  const int32_t* p = a.i32(3, &np);
  if (rank > 8 || np != rank) a.fail(3, "perm must match the rank (<= 8)");
  int64_t shape[8];
  int perm[8];
  readShape(a, 2, shape, (int)rank);
  size_t total = 1;
  for (size_t d = 0; d < rank; d++) {
    total *= shape[d];
    if (p[d] < 0 || p[d] >= (int)rank) a.fail(3, "perm entry out of range");
    perm[d] = p[d];
  }
  need(a, 0, nx, total);
  need(a, 1, no, total);
  if (total == 0) return nullptr;
  if (rank == 0) {
    *(int32_t*)out = *(const int32_t*)x;
    return nullptr;
  }
  K->transpose(x, out, (int)rank, shape, perm);
  return nullptr;
}

napi_value GatherRows(napi_env env, napi_callback_info info) {
  Args a(env, info, "gatherRows", 5);
  size_t nx, ni, no;
  const float* x = a.f32(0, &nx);
  const int32_t* idx = a.i32(1, &ni);
  float* out = a.f32(2, &no);
  size_t rows = (size_t)a.integer(3), cols = (size_t)a.integer(4);
  need(a, 0, nx, rows * cols);
  need(a, 2, no, ni * cols);
  K->gatherRows(x, idx, out, ni, rows, cols);
  return nullptr;
}

napi_value SegmentSumRows(napi_env env, napi_callback_info info) {
  Args a(env, info, "segmentSumRows", 5);
  size_t nx, ni, no;
  const float* x = a.f32(0, &nx);
  const int32_t* idx = a.i32(1, &ni);
  float* out = a.f32(2, &no);
  size_t segs = (size_t)a.integer(3), cols = (size_t)a.integer(4);
  need(a, 0, nx, ni * cols);
  need(a, 2, no, segs * cols);
  K->segmentSumRows(x, idx, out, ni, segs, cols);
  return nullptr;
}

napi_value AddN(napi_env env, napi_callback_info info) {
  Args a(env, info, "addN", 2);
  bool isArr = false;
  napi_is_array(env, a.argv[0], &isArr);
  if (!isArr) a.fail(0, "expected an array of Float32Array");
  uint32_t k;
  napi_get_array_length(env, a.argv[0], &k);
  if (k == 0) a.fail(0, "empty array");
  size_t no;
  float* out = a.f32(1, &no);
  std::vector<const float*> xs(k);
  for (uint32_t j = 0; j < k; j++) {
    napi_value v;
    napi_get_element(env, a.argv[0], j, &v);
    Args sub = a;
    sub.argv[0] = v;
    size_t n;
    xs[j] = sub.f32(0, &n);
    need(a, 0, n, no);
  }
  K->addN(xs.data(), (int)k, out, no);
  return nullptr;
}

// copyBox(src, srcShape, srcOff, dst, dstShape, dstOff, box): all shape/offset arrays Int32Array of one rank
napi_value CopyBox(napi_env env, napi_callback_info info) {
  Args a(env, info, "copyBox", 7);
  size_t ns, nd, rank;
  const void* src = a.word32(0, &ns);
  void* dst = a.word32(3, &nd);
  a.i32(1, &rank);
  if (rank < 1 || rank > 8) a.fail(1, "rank must be 1..8");
  int64_t sShape[8], sOff[8], dShape[8], dOff[8], box[8];
  readShape(a, 1, sShape, (int)rank);
  readShape(a, 2, sOff, (int)rank);
  readShape(a, 4, dShape, (int)rank);
  readShape(a, 5, dOff, (int)rank);
  readShape(a, 6, box, (int)rank);
  size_t sTotal = 1, dTotal = 1;
  for (size_t d = 0; d < rank; d++) {
    if (sOff[d] < 0 || dOff[d] < 0 || box[d] < 0 || sOff[d] + box[d] > sShape[d] || dOff[d] + box[d] > dShape[d])
      a.fail(6, "box out of bounds on dim " + std::to_string(d));
    sTotal *= sShape[d];
    dTotal *= dShape[d];
  }
  need(a, 0, ns, sTotal);
  need(a, 3, nd, dTotal);
  K->copyBox(src, sShape, sOff, dst, dShape, dOff, box, (int)rank);
  return nullptr;
}

napi_value LayerNormFwd(napi_env env, napi_callback_info info) {
  Args a(env, info, "layerNormFwd", 9);
  size_t rows = (size_t)a.integer(6), cols = (size_t)a.integer(7);
  size_t n[6];
  const float* x = a.f32(0, &n[0]);
  const float* g = a.f32(1, &n[1]);
  const float* b = a.f32(2, &n[2]);
  float* y = a.f32(3, &n[3]);
  float* mean = a.f32(4, &n[4]);
  float* rstd = a.f32(5, &n[5]);
  need(a, 0, n[0], rows * cols);
  need(a, 1, n[1], cols);
  need(a, 2, n[2], cols);
  need(a, 3, n[3], rows * cols);
  need(a, 4, n[4], rows);
  need(a, 5, n[5], rows);
  K->layerNormFwd(x, g, b, y, mean, rstd, rows, cols, (float)a.num(8));
  return nullptr;
}

napi_value LayerNormBwd(napi_env env, napi_callback_info info) {
  Args a(env, info, "layerNormBwd", 10);
  size_t rows = (size_t)a.integer(8), cols = (size_t)a.integer(9);
  size_t n[8];
  const float* x = a.f32(0, &n[0]);
  const float* g = a.f32(1, &n[1]);
  const float* mean = a.f32(2, &n[2]);
  const float* rstd = a.f32(3, &n[3]);
  const float* dy = a.f32(4, &n[4]);
  float* dx = a.f32(5, &n[5]);
  float* dg = a.f32(6, &n[6]);
  float* db = a.f32(7, &n[7]);
  size_t want[8] = {rows * cols, cols, rows, rows, rows * cols, rows * cols, cols, cols};
  for (int i = 0; i < 8; i++) need(a, i, n[i], want[i]);
  K->layerNormBwd(x, g, mean, rstd, dy, dx, dg, db, rows, cols);
  return nullptr;
}

napi_value AttentionFwd(napi_env env, napi_callback_info info) {
  Args a(env, info, "attentionFwd", 9);
  int BH = (int)a.integer(5), T = (int)a.integer(6), D = (int)a.integer(7);
  size_t n[5];
  const float* q = a.f32(0, &n[0]);
  const float* k = a.f32(1, &n[1]);
  const float* v = a.f32(2, &n[2]);
  float* out = a.f32(3, &n[3]);
  float* lse = a.f32(4, &n[4]);
  size_t full = (size_t)BH * T * D;
  size_t want[5] = {full, full, full, full, (size_t)BH * T};
  for (int i = 0; i < 5; i++) need(a, i, n[i], want[i]);
  BlasSingleThread single;
  K->attentionFwd(q, k, v, out, lse, BH, T, D, (float)a.num(8));
  return nullptr;
}

napi_value AttentionBwd(napi_env env, napi_callback_info info) {
  Args a(env, info, "attentionBwd", 13);
  int BH = (int)a.integer(9), T = (int)a.integer(10), D = (int)a.integer(11);
  size_t n[9];
  const float* q = a.f32(0, &n[0]);
  const float* k = a.f32(1, &n[1]);
  const float* v = a.f32(2, &n[2]);
  const float* out = a.f32(3, &n[3]);
  const float* lse = a.f32(4, &n[4]);
  const float* dout = a.f32(5, &n[5]);
  float* dq = a.f32(6, &n[6]);
  float* dk = a.f32(7, &n[7]);
  float* dv = a.f32(8, &n[8]);
  size_t full = (size_t)BH * T * D;
  size_t want[9] = {full, full, full, full, (size_t)BH * T, full, full, full, full};
  for (int i = 0; i < 9; i++) need(a, i, n[i], want[i]);
  BlasSingleThread single;
  K->attentionBwd(q, k, v, out, lse, dout, dq, dk, dv, BH, T, D, (float)a.num(12));
  return nullptr;
}

// rotary(x, cos, sin, y, T, hs, r, transpose)
napi_value Rotary(napi_env env, napi_callback_info info) {
  Args a(env, info, "rotary", 8);
  size_t nx, nc, ns, ny;
  const float* x = a.f32(0, &nx);
  const float* c = a.f32(1, &nc);
  const float* s = a.f32(2, &ns);
  float* y = a.f32(3, &ny);
  int T = (int)a.integer(4), hs = (int)a.integer(5), r = (int)a.integer(6);
  if (T < 1 || hs < 1 || r < 0 || r > hs || r % 2 != 0) a.fail(6, "need T >= 1, 0 <= r <= hs, r even");
  if (nx % ((size_t)T * hs) != 0) a.fail(0, "length is not a multiple of T*hs");
  need(a, 1, nc, (size_t)T * r);
  need(a, 2, ns, (size_t)T * r);
  need(a, 3, ny, nx);
  K->rotary(x, c, s, y, nx / hs, T, hs, r, a.flag(7));
  return nullptr;
}

napi_value CrossEntropyFwd(napi_env env, napi_callback_info info) {
  Args a(env, info, "crossEntropyFwd", 6);
  size_t N = (size_t)a.integer(4), V = (size_t)a.integer(5);
  size_t n[4];
  const float* logits = a.f32(0, &n[0]);
  const int32_t* labels = a.i32(1, &n[1]);
  float* rowLoss = a.f32(2, &n[2]);
  float* lse = a.f32(3, &n[3]);
  size_t want[4] = {N * V, N, N, N};
  for (int i = 0; i < 4; i++) need(a, i, n[i], want[i]);
  K->crossEntropyFwd(logits, labels, rowLoss, lse, N, V);
  return nullptr;
}

napi_value CrossEntropyBwd(napi_env env, napi_callback_info info) {
  Args a(env, info, "crossEntropyBwd", 7);
  size_t N = (size_t)a.integer(5), V = (size_t)a.integer(6);
  size_t n[5];
  const float* logits = a.f32(0, &n[0]);
  const int32_t* labels = a.i32(1, &n[1]);
  const float* lse = a.f32(2, &n[2]);
  const float* scale = a.f32(3, &n[3]);
  float* d = a.f32(4, &n[4]);
  size_t want[5] = {N * V, N, N, N, N * V};
  for (int i = 0; i < 5; i++) need(a, i, n[i], want[i]);
  K->crossEntropyBwd(logits, labels, lse, scale, d, N, V);
  return nullptr;
}

napi_value AdamW(napi_env env, napi_callback_info info) {
  Args a(env, info, "adamw", 12);
  size_t n[4];
  float* p = a.f32(0, &n[0]);
  float* m = a.f32(1, &n[1]);
  float* v = a.f32(2, &n[2]);
  const float* g = a.f32(3, &n[3]);
  for (int i = 1; i < 4; i++) need(a, i, n[i], n[0]);
  K->adamw(p, m, v, g, n[0], (float)a.num(4), (float)a.num(5), (float)a.num(6), (float)a.num(7), (float)a.num(8),
           (float)a.num(9), (float)a.num(10), (float)a.num(11));
  return nullptr;
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  Args a(env, info, "setThreads", 1);
  int n = (int)a.integer(0);
  if (n < 1) a.fail(0, "threads must be >= 1");
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
  return nullptr;
}

napi_value Info(napi_env env, napi_callback_info) {
  napi_value obj, v;
  napi_create_object(env, &obj);
  napi_create_string_utf8(env, K->isa, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "isa", v);
  napi_create_int32(env, omp_get_max_threads(), &v);
  napi_set_named_property(env, obj, "threads", v);
  napi_create_int32(env, openblas_get_num_threads(), &v);
  napi_set_named_property(env, obj, "blasThreads", v);
  napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "blasConfig", v);
  napi_create_string_utf8(env, openblas_get_corename(), NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "blasCore", v);
  return obj;
}

// Wraps a binding so C++ errors become JS exceptions instead of aborting the process.
template <napi_value (*F)(napi_env, napi_callback_info)>
napi_value Guard(napi_env env, napi_callback_info info) {
  try {
    return F(env, info);
  } catch (const ArgError& e) {
    napi_throw_type_error(env, nullptr, e.what());
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, e.what());
  }
  return nullptr;
}

const mt::Kernels* pickKernels() {
#if defined(__x86_64__) && defined(MT_HAVE_X86_ISAS)
  __builtin_cpu_init();
  if (!getenv("MIDTRAIN_NATIVE_ISA") || std::string(getenv("MIDTRAIN_NATIVE_ISA")) == "auto") {
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
      return mt_kernels_avx512();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return mt_kernels_avx2();
    return mt_kernels_generic();
  }
  std::string want = getenv("MIDTRAIN_NATIVE_ISA");  // testing aid: force a narrower code path
  if (want == "avx2" && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return mt_kernels_avx2();
  return mt_kernels_generic();
#else
  return mt_kernels_generic();
#endif
}

// Kernel outputs are fresh JS TypedArrays (Node allocates them with calloc). glibc serves anything above its
// mmap threshold (128 KB, growing to at most 32 MB) with fresh mmap'd pages, so every 4-16 MB activation costs
// thousands of page faults on first write, and munmap on free. Raising the threshold to its 32 MB maximum and
// keeping freed memory (trim threshold) lets those buffers be reused from the heap instead: measured ~2x on a
// 2M-element tf.mul. MIDTRAIN_NATIVE_MALLOC=0 keeps glibc's defaults.
void tuneMalloc() {
  const char* v = getenv("MIDTRAIN_NATIVE_MALLOC");
  if (v && std::string(v) == "0") return;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

napi_value Init(napi_env env, napi_value exports) {
  K = pickKernels();
  tuneMalloc();
  struct Fn {
    const char* name;
    napi_callback cb;
  } fns[] = {
      {"matmul", Guard<Matmul>},
      {"binary", Guard<Binary>},
      {"unary", Guard<Unary>},
      {"geluBwd", Guard<GeluBwd>},
      {"reduceInner", Guard<ReduceInner>},
      {"sumOuter", Guard<SumOuter>},
      {"softmax", Guard<Softmax>},
      {"transpose", Guard<Transpose>},
      {"gatherRows", Guard<GatherRows>},
      {"segmentSumRows", Guard<SegmentSumRows>},
      {"addN", Guard<AddN>},
      {"copyBox", Guard<CopyBox>},
      {"layerNormFwd", Guard<LayerNormFwd>},
      {"layerNormBwd", Guard<LayerNormBwd>},
      {"attentionFwd", Guard<AttentionFwd>},
      {"attentionBwd", Guard<AttentionBwd>},
      {"rotary", Guard<Rotary>},
      {"crossEntropyFwd", Guard<CrossEntropyFwd>},
      {"crossEntropyBwd", Guard<CrossEntropyBwd>},
      {"adamw", Guard<AdamW>},
      {"setThreads", Guard<SetThreads>},
      {"info", Guard<Info>},
  };
  for (const Fn& f : fns) {
    napi_value fn;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.cb, nullptr, &fn);
    napi_set_named_property(env, exports, f.name, fn);
  }
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
