/*
 * alpaca-forge's native matMul: single-precision GEMM from the system's CBLAS (OpenBLAS on Linux, Accelerate on
 * macOS), exposed to Node through plain Node-API so one build serves every Node version.
 *
 *   sgemmBatched(transA, transB, m, n, k, a, b, c, batch, strideA, strideB[, alpha, beta])
 *     c[i] = alpha · op(a[i]) · op(b[i]) + beta · c[i] for i < batch, row-major (alpha 1 and beta 0 when not
 *     given); a stride of 0 repeats that operand for every i (a broadcast batch). a, b and c are Float32Arrays
 *     (views of any ArrayBuffer, the wasm heap included: no copy).
 *   setThreads(n), threads(), config()
 */
#include <dlfcn.h>
#include <stdint.h>
#include <string.h>
#include <node_api.h>
#ifdef __APPLE__
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
#endif

#define CHECK(call)                                                                                       \
  do {                                                                                                    \
    if ((call) != napi_ok) {                                                                              \
      napi_throw_error(env, NULL, "alpaca-forge native blas: Node-API call failed: " #call);             \
      return NULL;                                                                                        \
    }                                                                                                     \
  } while (0)

static int float_view(napi_env env, napi_value v, float **data, size_t *length) {
  bool is_typed;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return 0;
  napi_typedarray_type type;
  void *ptr;
  if (napi_get_typedarray_info(env, v, &type, length, &ptr, NULL, NULL) != napi_ok) return 0;
  if (type != napi_float32_array) return 0;
  *data = (float *)ptr;
  return 1;
}

static int64_t int_arg(napi_env env, napi_value v) {
  int64_t x = -1;
  napi_get_value_int64(env, v, &x);
  return x;
}

static napi_value sgemm_batched(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 11 && argc != 13) {
    napi_throw_type_error(env, NULL, "sgemmBatched expects 11 arguments, or 13 with alpha and beta");
    return NULL;
  }
  double alpha = 1.0, beta = 0.0;
  if (argc == 13) {
    CHECK(napi_get_value_double(env, argv[11], &alpha));
    CHECK(napi_get_value_double(env, argv[12], &beta));
  }
  bool ta = false, tb = false;
  CHECK(napi_get_value_bool(env, argv[0], &ta));
  CHECK(napi_get_value_bool(env, argv[1], &tb));
  const int64_t m = int_arg(env, argv[2]), n = int_arg(env, argv[3]), k = int_arg(env, argv[4]);
  const int64_t batch = int_arg(env, argv[8]), sa = int_arg(env, argv[9]), sb = int_arg(env, argv[10]);
  float *a, *b, *c;
  size_t la, lb, lc;
  if (!float_view(env, argv[5], &a, &la) || !float_view(env, argv[6], &b, &lb) || !float_view(env, argv[7], &c, &lc)) {
    napi_throw_type_error(env, NULL, "sgemmBatched: a, b and c must be Float32Arrays");
    return NULL;
  }
  if (m < 0 || n < 0 || k < 0 || batch < 0 || sa < 0 || sb < 0 || m > INT32_MAX || n > INT32_MAX || k > INT32_MAX) {
    napi_throw_range_error(env, NULL, "sgemmBatched: sizes must be non-negative 32-bit integers");
    return NULL;
  }
  // Bounds are checked here, not trusted: a wrong shape from JS must throw, never read or write outside the views.
  const uint64_t lastA = batch ? (uint64_t)(batch - 1) * sa : 0, lastB = batch ? (uint64_t)(batch - 1) * sb : 0;
  if (batch && (lastA + (uint64_t)m * k > la || lastB + (uint64_t)k * n > lb || (uint64_t)batch * m * n > lc)) {
    napi_throw_range_error(env, NULL, "sgemmBatched: a view is shorter than its shape");
    return NULL;
  }
  const int lda = ta ? (int)m : (int)k, ldb = tb ? (int)k : (int)n;
  for (int64_t i = 0; i < batch; i++) {
    float *ci = c + (uint64_t)i * m * n;
    if (k == 0) {
      // An empty product: c = beta·c (BLAS implementations differ on k = 0, so it is done here).
      if (beta == 0.0) memset(ci, 0, sizeof(float) * (size_t)(m * n));
      else for (int64_t j = 0; j < m * n; j++) ci[j] *= (float)beta;
      continue;
    }
    const float *ai = a + (uint64_t)i * sa, *bi = b + (uint64_t)i * sb;
    if (m == 1) {
      /* One row (a decoding step): a matrix-vector product. OpenBLAS's sgemm packs the whole of b first even
       * then, which costs more than the product itself; sgemv reads b once. a's single row is contiguous
       * whether or not it is marked transposed. */
      if (tb) cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)k, (float)alpha, bi, ldb, ai, 1, (float)beta, ci, 1);
      else cblas_sgemv(CblasRowMajor, CblasTrans, (int)k, (int)n, (float)alpha, bi, ldb, ai, 1, (float)beta, ci, 1);
      continue;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, (float)alpha,
                ai, lda, bi, ldb, (float)beta, ci, (int)n);
  }
  return NULL;
}

/* OpenBLAS's thread controls, looked up at run time so the same source links against any CBLAS. */
typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);
typedef char *(*get_config_fn)(void);

static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  set_threads_fn f = (set_threads_fn)dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
  if (f && argc == 1) f((int)int_arg(env, argv[0]));
  napi_value out;
  CHECK(napi_get_boolean(env, f != NULL, &out));
  return out;
}

static napi_value threads(napi_env env, napi_callback_info info) {
  (void)info;
  get_threads_fn f = (get_threads_fn)dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
  napi_value out;
  CHECK(napi_create_int32(env, f ? f() : 0, &out));
  return out;
}

static napi_value config(napi_env env, napi_callback_info info) {
  (void)info;
  get_config_fn f = (get_config_fn)dlsym(RTLD_DEFAULT, "openblas_get_config");
#ifdef __APPLE__
  const char *s = "Accelerate";
#else
  const char *s = f ? f() : "CBLAS";
#endif
  napi_value out;
  CHECK(napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &out));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"sgemmBatched", NULL, sgemm_batched, NULL, NULL, NULL, napi_default, NULL},
    {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_default, NULL},
    {"threads", NULL, threads, NULL, NULL, NULL, napi_default, NULL},
    {"config", NULL, config, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
