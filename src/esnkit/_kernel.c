/* esnkit's native time loop: all T steps of the reservoir update in one call.
 *
 * Plain C99 with no Python or PyTorch headers, so it builds with the system compiler in a second
 * and is loaded with ctypes (see native.py). The arithmetic is written once, in _kernel_impl.h,
 * and instantiated here for double and float.
 *
 *   pre[t] = W x[t-1] + drive[t] + M y[t-1]
 *   x[t]   = x[t-1] + a * (f(pre[t]) - x[t-1])
 *   y[t]   = ydrive[t] + W_x x[t] + W_y y[t-1] + W_q (x[t] * x[t])
 *
 * One sequence (B = 1) runs on the state vector directly; several sequences are stored neuron-major
 * (N x B', B' = B rounded up to whole vectors, the extra lanes repeating sequence 0) so the
 * innermost loops run over sequences and vectorise.
 *
 * Every sequence of a batch gets, bit for bit, what it gets when run alone: each sum is taken in
 * an order fixed by the shapes of its operands, never by the batch, and the one-sequence and the
 * batched code take it in that order (in float64 and float32 alike):
 *   - the input drive, W x (CSR order) and M y: one fused multiply-add after another, from the
 *     drive's bias, the drive, and W x's result;
 *   - the readout's products (W_x, W_y, then W_q on the squared state), from ydrive[t]: the
 *     same when it has at least ESN_SEQ_ROWS
 *     outputs; with fewer, and for a dense W, each row's sum is a dot product split into
 *     ESN_DOT_P partial sums (term c into partial c mod ESN_DOT_P, in order), added by the
 *     fixed tree ESN_FOLD, then added to the row's value.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ESN_OK 0
#define ESN_NOMEM 1
#define ESN_BADARG 2

/* rows per SELL slice: 8 lanes fill a 512-bit double or a 256-bit float vector */
#define ESN_SLICE 8

/* Bytes of the vectors that hold a batch's sequences (and one sequence's rows in the products
 * vectorised across rows), and how many of them a register tile accumulates: 32 registers with
 * AVX-512, 16 without. */
#if defined(__AVX512F__)
#define ESN_BVEC 64
#define ESN_TILE 16
#else
#define ESN_BVEC 32
#define ESN_TILE 8
#endif

#define ESN_INLINE static inline __attribute__((always_inline))
#define ESN_NOINLINE __attribute__((noinline))

/* A batch's activation loop in 512-bit vectors where the target has them (GCC prefers 256-bit
 * ones when it vectorises by itself): a batched step took 0.87x as long on a Xeon with AVX-512. */
#if defined(__AVX512F__) && defined(__clang__)
#define ESN_WIDE __attribute__((noinline, min_vector_width(512)))
#elif defined(__AVX512F__) && defined(__GNUC__)
#define ESN_WIDE __attribute__((noinline, target("prefer-vector-width=512")))
#else
#define ESN_WIDE __attribute__((noinline))
#endif

/* A readout with this many outputs sums each output term after term (vectorised across outputs
 * for one sequence); one with fewer, as a dot product of ESN_DOT_P partial sums. */
#define ESN_SEQ_ROWS 64
#define ESN_DOT_P 16
/* One sequence's drive of at least this many inputs is computed this many steps at a time. */
#ifndef ESN_DRIVE_BLOCK_K
#define ESN_DRIVE_BLOCK_K 8
#endif
#ifndef ESN_DRIVE_STEPS
#define ESN_DRIVE_STEPS 32
#endif
/* Bytes of the columns of a product's right-hand operand that a band of tiles keeps in L1. */
#ifndef ESN_PANEL_BYTES
#define ESN_PANEL_BYTES 16384
#endif
/* The partial sums p[0..15] of a dot product, added in a fixed tree (scalars or vectors). */
#define ESN_FOLD(p)                                                                                 \
    (((((p)[0] + (p)[4]) + ((p)[8] + (p)[12])) + (((p)[1] + (p)[5]) + ((p)[9] + (p)[13]))) +        \
     ((((p)[2] + (p)[6]) + ((p)[10] + (p)[14])) + (((p)[3] + (p)[7]) + ((p)[11] + (p)[15]))))

enum { ACT_IDENTITY = 0, ACT_TANH = 1, ACT_RELU = 2, ACT_SIGMOID = 3 };

/* Mirrored field by field by the ctypes Structure in native.py, which checks its layout against
 * esn_args_offset() when it loads the library (keep ESN_ARGS_FIELDS below in step with the
 * fields). Strides count elements; a zero
 * stride broadcasts (the bias-only drive of an input-free step). Optional pointers are NULL. */
typedef struct {
    int64_t batch, steps, size, n_out;
    int64_t activation;
    const int64_t *row_ptr; /* CSR W: row_ptr (N+1), col (nnz), val (nnz); or dense (N x N) */
    const int32_t *col;
    const void *val;
    const void *dense;
    const int64_t *sell_ptr; /* SELL-C copy of W for one sequence: slice offsets (N/C + 1), */
    const int32_t *sell_col; /* then C-row column blocks of indices and values, zero-padded */
    const void *sell_val;
    const void *drive;
    int64_t drive_bs, drive_ts;
    const void *leak; /* (N,), NULL when every leak rate is 1 */
    void *x;          /* (B, N), in and out */
    void *states;     /* (B, T, N) strided, or NULL */
    int64_t states_bs, states_ts;
    const void *w_x; /* (D, N): readout from the state; NULL when no readout runs in the loop */
    const void *ydrive; /* bias + W_u u[t], (B, T, D) strided */
    int64_t ydrive_bs, ydrive_ts;
    const void *w_y;      /* (D, D) on y[t-1]: the readout's input term when outputs are the inputs */
    const void *feedback; /* M (N, D) on y[t-1] */
    void *y;              /* (B, D), in and out */
    void *outputs;        /* (B, T, D) strided, or NULL */
    int64_t outputs_bs, outputs_ts;
    /* The drive in factored form, bias + W_v v[t], used instead of `drive` when in_bias is set:
     * v (B, T, K) strided, W_v transposed (K x N, row-major), bias (N,). */
    const void *in_v;
    int64_t in_bs, in_ts, n_in;
    const void *in_wt;
    const void *in_bias;
    const void *w_q; /* (D, N) on x[t] * x[t]: a readout of squared states; NULL otherwise */
} esn_args;

/* tanh through expm1 with a Cody-Waite range reduction: tanh|v| = e / (e + 2), e = expm1(2|v|).
 * Every term is positive, so there is no cancellation: a few ulp everywhere, branch-free so the
 * compiler vectorises it, and NaN stays NaN (the `>` comparison is false for NaN). */
static inline double tanh_d(double v) {
    double a = fabs(v);
    a = a > 20.0 ? 20.0 : a; /* tanh(20) rounds to 1 */
    double z = 2.0 * a;
    const double magic = 6755399441055744.0; /* 1.5 * 2^52: adding it rounds to an integer */
    double t = z * 1.4426950408889634 + magic;
    double n = t - magic;
    double r = (z - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
    double q = 1.0 / 6227020800.0;
    q = q * r + 1.0 / 479001600.0;
    q = q * r + 1.0 / 39916800.0;
    q = q * r + 1.0 / 3628800.0;
    q = q * r + 1.0 / 362880.0;
    q = q * r + 1.0 / 40320.0;
    q = q * r + 1.0 / 5040.0;
    q = q * r + 1.0 / 720.0;
    q = q * r + 1.0 / 120.0;
    q = q * r + 1.0 / 24.0;
    q = q * r + 1.0 / 6.0;
    q = q * r + 0.5;
    double p = r + r * r * q; /* expm1(r), |r| <= ln2/2 */
    int64_t tb, mb;
    memcpy(&tb, &t, 8);
    memcpy(&mb, &magic, 8);
    int64_t sb = (tb - mb + 1023) << 52;
    double s;
    memcpy(&s, &sb, 8); /* 2^n */
    double e = s * p + (s - 1.0);
    return copysign(e / (e + 2.0), v);
}

static inline float tanh_f(float v) {
    float a = fabsf(v);
    a = a > 9.0f ? 9.0f : a; /* tanh(9) rounds to 1 in float */
    float z = 2.0f * a;
    const float magic = 12582912.0f; /* 1.5 * 2^23 */
    float t = z * 1.44269504f + magic;
    float n = t - magic;
    float r = (z - n * 0.693145751953125f) - n * 1.428606765330187e-06f;
    float q = 1.0f / 362880.0f;
    q = q * r + 1.0f / 40320.0f;
    q = q * r + 1.0f / 5040.0f;
    q = q * r + 1.0f / 720.0f;
    q = q * r + 1.0f / 120.0f;
    q = q * r + 1.0f / 24.0f;
    q = q * r + 1.0f / 6.0f;
    q = q * r + 0.5f;
    float p = r + r * r * q;
    int32_t tb, mb;
    memcpy(&tb, &t, 4);
    memcpy(&mb, &magic, 4);
    int32_t sb = (tb - mb + 127) << 23;
    float s;
    memcpy(&s, &sb, 4);
    float e = s * p + (s - 1.0f);
    return copysignf(e / (e + 2.0f), v);
}

#define REAL double
#define SUFFIX f64
#define TANH tanh_d
#define FMA fma
#include "_kernel_impl.h"
#undef REAL
#undef SUFFIX
#undef TANH
#undef FMA

#define REAL float
#define SUFFIX f32
#define TANH tanh_f
#define FMA fmaf
#include "_kernel_impl.h"
#undef REAL
#undef SUFFIX
#undef TANH
#undef FMA

/* Element-wise tanh, exposed so the tests can check its accuracy against libm directly. */
void esn_tanh_f64(const double *in, double *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = tanh_d(in[i]);
}

void esn_tanh_f32(const float *in, float *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = tanh_f(in[i]);
}

int esn_abi_version(void) { return 4; }

/* The layout of esn_args, field by field in declaration order, so that native.py can check its
 * ctypes mirror against what this compiler made of the struct (a field added, moved or resized on
 * one side only would otherwise hand the kernel wrong pointers). */
#define ESN_ARGS_FIELDS(X)                                                                         \
    X(batch) X(steps) X(size) X(n_out) X(activation) X(row_ptr) X(col) X(val) X(dense) X(sell_ptr) \
    X(sell_col) X(sell_val) X(drive) X(drive_bs) X(drive_ts) X(leak) X(x) X(states) X(states_bs)   \
    X(states_ts) X(w_x) X(ydrive) X(ydrive_bs) X(ydrive_ts) X(w_y) X(feedback) X(y) X(outputs)    \
    X(outputs_bs) X(outputs_ts) X(in_v) X(in_bs) X(in_ts) X(n_in) X(in_wt) X(in_bias) X(w_q)
#define ESN_OFFSET(f) (int64_t) offsetof(esn_args, f),
#define ESN_SIZE(f) (int64_t) sizeof(((esn_args *)0)->f),
#define ESN_NAME(f) #f,
static const int64_t esn_args_offsets[] = {ESN_ARGS_FIELDS(ESN_OFFSET)};
static const int64_t esn_args_sizes[] = {ESN_ARGS_FIELDS(ESN_SIZE)};
static const char *const esn_args_names[] = {ESN_ARGS_FIELDS(ESN_NAME)};
#undef ESN_OFFSET
#undef ESN_SIZE
#undef ESN_NAME

int64_t esn_args_size(void) { return (int64_t)sizeof(esn_args); }
int64_t esn_args_fields(void) { return (int64_t)(sizeof esn_args_offsets / sizeof esn_args_offsets[0]); }
/* offset, size and name of field i, or -1, -1 and NULL past the last field */
int64_t esn_args_offset(int64_t i) { return i >= 0 && i < esn_args_fields() ? esn_args_offsets[i] : -1; }
int64_t esn_args_field_size(int64_t i) { return i >= 0 && i < esn_args_fields() ? esn_args_sizes[i] : -1; }
const char *esn_args_name(int64_t i) { return i >= 0 && i < esn_args_fields() ? esn_args_names[i] : NULL; }

/* setuptools builds this file as an extension module; the symbol only satisfies linkers that
 * insist on a module initialiser. The library is never imported as a Python module. */
void *PyInit__kernel(void) { return 0; }
