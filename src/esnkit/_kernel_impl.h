/* The time loop, written once for a floating type: _kernel.c includes this file with REAL, SUFFIX,
 * TANH and FMA defined (double/f64/tanh_d/fma and float/f32/tanh_f/fmaf). No include guard on
 * purpose. */

#define ESN_GLUE2(a, b) a##b
#define ESN_GLUE(a, b) ESN_GLUE2(a, b)
#define FN(name) ESN_GLUE(name, SUFFIX)
/* The products are written with GCC/Clang vector extensions: 256-bit vectors for one sequence,
 * the widest the target has for a batch (bvec_ below). Accumulators stay in registers across a
 * sum's terms (updating memory for every term stalls on store-to-load forwarding, and the
 * auto-vectoriser turns the lane loops into gathers). */
typedef REAL FN(vec_) __attribute__((vector_size(32)));
#define VW ((int64_t)(32 / sizeof(REAL)))
static inline FN(vec_) FN(load_)(const REAL *p) {
    FN(vec_) v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* a * b + c in one rounding where vector code contracts `acc += a * b` into one (-ffp-contract=fast
 * with FMA instructions), else in two, as vector code then does. Spelled out for the scalar
 * chains of a sum: GCC may vectorise `s += a[c] * b[c]` as an in-order reduction, which multiplies
 * in vectors and adds lane by lane, unfused, and the one-sequence and batched code would round
 * differently. */
#if defined(__FMA__)
#define MADD(a, b, c) FMA(a, b, c)
#else
#define MADD(a, b, c) ((a) * (b) + (c))
#endif

ESN_INLINE void FN(activate_)(REAL *restrict v, int64_t n, int64_t act) {
    switch (act) {
    case ACT_TANH:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) v[i] = TANH(v[i]);
        break;
    case ACT_SIGMOID:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) v[i] = (REAL)0.5 + (REAL)0.5 * TANH((REAL)0.5 * v[i]);
        break;
    case ACT_RELU:
        /* `v < 0` is false for NaN, so a diverged state stays NaN and is reported */
        for (int64_t i = 0; i < n; i++) v[i] = v[i] < 0 ? (REAL)0 : v[i];
        break;
    default:
        break;
    }
}

/* The activation of a batch, in the widest vectors (see ESN_WIDE); one sequence's stays in the
 * 256-bit vectors GCC picks itself: in 512-bit ones, its harvest in float32 took 1.05x as long. */
static ESN_WIDE void FN(activate_wide_)(REAL *restrict v, int64_t n, int64_t act) {
    FN(activate_)(v, n, act);
}

/* pre += W x for one sequence, W in SELL-C: the C rows of a slice are the lanes of C / VW vector
 * accumulators, which keeps the FMA units busy without horizontal sums. Each row still adds its
 * terms in CSR order (the padding adds 0 * x[0] at the end), so the sums are those of a scalar
 * loop over the row. The x[col] operands are loaded one by one into the lanes, not gathered:
 * gather instructions are slow on many x86 cores (microcode mitigations on Intel; on AMD Zen the
 * gathered loop took 1.3-1.7x as long as a scalar one), while lane loads let the values and the
 * stores go by whole vectors. Alone, the scalar loop, which read each value by itself, took 1.2x
 * as long in float64 and 1.35x in float32 at N = 1000 on a 2 vCPU AMD EPYC; in a whole step the
 * float64 harvest was no faster, the float32 one 1.2x. The column indices are read two at a time
 * in one 64-bit load. */
static __attribute__((noinline, optimize("no-tree-vectorize"))) void FN(sell_matvec_)(
    int64_t N, const int64_t *restrict ptr, const int32_t *restrict col, const REAL *restrict val,
    const REAL *restrict x, REAL *restrict pre) {
    enum { NV = ESN_SLICE / VW };
    for (int64_t sl = 0; sl * ESN_SLICE < N; sl++) {
        const int64_t r0 = sl * ESN_SLICE, rows = N - r0 < ESN_SLICE ? N - r0 : ESN_SLICE;
        REAL init[ESN_SLICE];
        for (int64_t r = 0; r < ESN_SLICE; r++) init[r] = r < rows ? pre[r0 + r] : (REAL)0;
        FN(vec_) acc[NV];
        for (int v = 0; v < NV; v++) acc[v] = FN(load_)(init + v * VW);
        for (int64_t k = ptr[sl]; k < ptr[sl + 1]; k += ESN_SLICE)
            for (int v = 0; v < NV; v++) {
                FN(vec_) xv;
                for (int64_t l = 0; l < VW; l += 2) {
                    uint64_t pair;
                    memcpy(&pair, col + k + v * VW + l, sizeof pair);
                    const uint32_t c0 = (uint32_t)pair, c1 = (uint32_t)(pair >> 32);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
                    xv[l] = x[c1];
                    xv[l + 1] = x[c0];
#else
                    xv[l] = x[c0];
                    xv[l + 1] = x[c1];
#endif
                }
                acc[v] += FN(load_)(val + k + v * VW) * xv;
            }
        if (rows == ESN_SLICE) {
            memcpy(pre + r0, acc, sizeof acc);
        } else {
            memcpy(init, acc, sizeof acc);
            for (int64_t r = 0; r < rows; r++) pre[r0 + r] = init[r];
        }
    }
}

/* A batch's vectors: the widest the target has. */
typedef REAL FN(bvec_) __attribute__((vector_size(ESN_BVEC)));
#define LB ((int64_t)(ESN_BVEC / sizeof(REAL)))
static inline FN(bvec_) FN(bload_)(const REAL *p) {
    FN(bvec_) v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void FN(bstore_)(REAL *p, FN(bvec_) v) { memcpy(p, &v, sizeof v); }

/* The dot product of a row of a dense matrix with a vector, as ESN_DOT_P partial sums (term c
 * into partial c mod ESN_DOT_P) in vector accumulators, added by ESN_FOLD: one accumulator would
 * be a single chain of dependent FMAs, bound by their latency. */
static inline REAL FN(dot_)(const REAL *restrict a, const REAL *restrict b, int64_t n) {
    enum { NV = ESN_DOT_P / VW };
    FN(vec_) s[NV];
    for (int v = 0; v < NV; v++) s[v] = (FN(vec_)){0};
    int64_t c = 0;
    for (; c + ESN_DOT_P <= n; c += ESN_DOT_P)
        for (int v = 0; v < NV; v++) s[v] += FN(load_)(a + c + v * VW) * FN(load_)(b + c + v * VW);
    REAL p[ESN_DOT_P];
    memcpy(p, s, sizeof p);
    for (int64_t j = 0; c + j < n; j++) p[j] = MADD(a[c + j], b[c + j], p[j]);
    return ESN_FOLD(p);
}

/* out (rows x B', neuron-major) += M (rows x cols, row-major) V (cols x B'), each row's sum taken
 * as dot_ takes it: the batched dense W, and a readout of few outputs. */
static ESN_NOINLINE void FN(part_batch_)(REAL *restrict out, const REAL *restrict M, int64_t rows,
                                         int64_t cols, const REAL *restrict V, int64_t Bp) {
    for (int64_t r = 0; r < rows; r++) {
        const REAL *restrict m = M + r * cols;
        for (int64_t b0 = 0; b0 < Bp; b0 += LB) {
            FN(bvec_) p[ESN_DOT_P];
            for (int j = 0; j < ESN_DOT_P; j++) p[j] = (FN(bvec_)){0};
            int64_t c = 0;
            for (; c + ESN_DOT_P <= cols; c += ESN_DOT_P)
#pragma GCC unroll 16
                for (int j = 0; j < ESN_DOT_P; j++) p[j] += m[c + j] * FN(bload_)(V + (c + j) * Bp + b0);
            for (int64_t j = 0; c + j < cols; j++) p[j] += m[c + j] * FN(bload_)(V + (c + j) * Bp + b0);
            FN(bstore_)(out + r * Bp + b0, FN(bload_)(out + r * Bp + b0) + ESN_FOLD(p));
        }
    }
}

/* out (rows) = from (rows) + M v for one sequence, M given transposed (Mt, cols x rows; `from` may
 * be `out`): each row adds its terms one after another, vectorised across rows (eight vectors of
 * rows in flight hide the FMA latency). The drive's inputs (from the bias), the feedback, and a
 * readout of many outputs. */
static ESN_NOINLINE void FN(seq_one_)(REAL *out, const REAL *from, const REAL *restrict Mt, int64_t rows,
                                      int64_t cols, const REAL *restrict v) {
    int64_t r0 = 0;
    for (; r0 + 8 * VW <= rows; r0 += 8 * VW) {
        FN(vec_) acc[8];
        for (int j = 0; j < 8; j++) acc[j] = FN(load_)(from + r0 + j * VW);
        for (int64_t c = 0; c < cols; c++) {
            const REAL w = v[c], *restrict m = Mt + c * rows + r0;
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++) acc[j] += FN(load_)(m + j * VW) * w;
        }
        memcpy(out + r0, acc, sizeof acc);
    }
    for (; r0 + VW <= rows; r0 += VW) {
        FN(vec_) acc = FN(load_)(from + r0);
        for (int64_t c = 0; c < cols; c++) acc += FN(load_)(Mt + c * rows + r0) * v[c];
        memcpy(out + r0, &acc, sizeof acc);
    }
    for (; r0 < rows; r0++) {
        REAL o = from[r0];
        for (int64_t c = 0; c < cols; c++) o = MADD(Mt[c * rows + r0], v[c], o);
        out[r0] = o;
    }
}

/* The matrix product of seq_batch_, its operands given by their row strides (ld*, in elements). */
typedef struct {
    REAL *out;
    const REAL *M, *V;
    int64_t ldo, ldm, ldv;
} FN(gemm_);

/* R rows x NB vectors of lanes of seq_batch_, accumulated in registers over columns c0..c1-1:
 * the R rows of M are read as R sequential streams. */
ESN_INLINE void FN(seq_tile_)(const FN(gemm_) *g, int64_t r0, int64_t b0, int64_t c0, int64_t c1, const int R,
                              const int NB) {
    REAL *restrict out = g->out + r0 * g->ldo + b0;
    const REAL *restrict M = g->M + r0 * g->ldm, *restrict V = g->V + b0;
    const int64_t ldo = g->ldo, ldm = g->ldm, ldv = g->ldv;
    FN(bvec_) acc[ESN_TILE];
#pragma GCC unroll 16
    for (int i = 0; i < R; i++)
#pragma GCC unroll 4
        for (int j = 0; j < NB; j++) acc[i * NB + j] = FN(bload_)(out + i * ldo + j * LB);
    for (int64_t c = c0; c < c1; c++) {
        FN(bvec_) xv[4];
#pragma GCC unroll 4
        for (int j = 0; j < NB; j++) xv[j] = FN(bload_)(V + c * ldv + j * LB);
#pragma GCC unroll 16
        for (int i = 0; i < R; i++) {
            const REAL w = M[i * ldm + c];
#pragma GCC unroll 4
            for (int j = 0; j < NB; j++) acc[i * NB + j] += w * xv[j];
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < R; i++)
#pragma GCC unroll 4
        for (int j = 0; j < NB; j++) FN(bstore_)(out + i * ldo + j * LB, acc[i * NB + j]);
}

/* NB vectors of lanes from b0 of seq_batch_, all rows: the columns in panels whose part of V fills
 * a third of L1 (16 KB), so that every tile of rows finds it there. A panel's tiles continue the
 * sums where the previous panel's left them in `out`, in the same order. */
ESN_INLINE void FN(seq_band_)(const FN(gemm_) *g, int64_t rows, int64_t cols, int64_t b0, const int NB) {
    enum { FOUR = 4 < ESN_TILE / 4 ? 4 : ESN_TILE / 4 };
    const int R = ESN_TILE / NB;
    const int64_t panel = ESN_PANEL_BYTES / ((int64_t)sizeof(REAL) * NB * LB);
    for (int64_t c0 = 0; c0 < cols; c0 += panel) {
        const int64_t c1 = c0 + panel < cols ? c0 + panel : cols;
        int64_t r0 = 0;
        for (; r0 + R <= rows; r0 += R) FN(seq_tile_)(g, r0, b0, c0, c1, R, NB);
        if (R > FOUR)
            for (; r0 + FOUR <= rows; r0 += FOUR) FN(seq_tile_)(g, r0, b0, c0, c1, FOUR, NB);
        for (; r0 < rows; r0++) FN(seq_tile_)(g, r0, b0, c0, c1, 1, NB);
    }
}

/* out (rows x lanes) += M (rows x cols) V (cols x lanes), all row-major with the given row strides:
 * each value adds its terms one after another from its value in `out`, as seq_one_ does, in
 * register tiles of rows x vectors of lanes (each weight loaded serves a tile's lanes, each V value
 * its rows). The lanes are a batch's sequences, or the neurons of one sequence's drive over a block
 * of steps (its rows); lanes past the last whole vector are summed one by one. */
static ESN_NOINLINE void FN(seq_batch_)(REAL *out, int64_t ldo, const REAL *M, int64_t ldm, const REAL *V,
                                        int64_t ldv, int64_t rows, int64_t cols, int64_t lanes) {
    const FN(gemm_) g = {out, M, V, ldo, ldm, ldv};
    int64_t b0 = 0;
    for (; b0 + 4 * LB <= lanes; b0 += 4 * LB) FN(seq_band_)(&g, rows, cols, b0, 4);
    for (; b0 + 2 * LB <= lanes; b0 += 2 * LB) FN(seq_band_)(&g, rows, cols, b0, 2);
    for (; b0 + LB <= lanes; b0 += LB) FN(seq_band_)(&g, rows, cols, b0, 1);
    for (int64_t r = 0; b0 < lanes && r < rows; r++)
        for (int64_t b = b0; b < lanes; b++) {
            REAL o = out[r * ldo + b];
            for (int64_t c = 0; c < cols; c++) o = MADD(M[r * ldm + c], V[c * ldv + b], o);
            out[r * ldo + b] = o;
        }
}

/* NB vectors of sequences of one row of csr_batch_. */
ESN_INLINE void FN(csr_tile_)(
    REAL *restrict p, const int32_t *restrict col, const REAL *restrict val, int64_t k0, int64_t k1,
    const REAL *restrict x, int64_t Bp, const int NB) {
    FN(bvec_) acc[4];
#pragma GCC unroll 4
    for (int j = 0; j < NB; j++) acc[j] = FN(bload_)(p + j * LB);
    for (int64_t k = k0; k < k1; k++) {
        const REAL w = val[k], *restrict xj = x + (int64_t)col[k] * Bp;
#pragma GCC unroll 4
        for (int j = 0; j < NB; j++) acc[j] += w * FN(bload_)(xj + j * LB);
    }
#pragma GCC unroll 4
    for (int j = 0; j < NB; j++) FN(bstore_)(p + j * LB, acc[j]);
}

/* pre (N x B') += W x for a batch, W in CSR: each row's vectors of sequences stay in registers
 * across its nonzeros (updating pre in memory for every nonzero stalls on store-to-load
 * forwarding), which add in CSR order, as the SELL product of one sequence does. */
static ESN_NOINLINE void FN(csr_batch_)(REAL *restrict pre, const int64_t *restrict row_ptr,
                                        const int32_t *restrict col, const REAL *restrict val,
                                        const REAL *restrict x, int64_t N, int64_t Bp) {
    for (int64_t i = 0; i < N; i++) {
        REAL *restrict p = pre + i * Bp;
        const int64_t k0 = row_ptr[i], k1 = row_ptr[i + 1];
        int64_t b0 = 0;
        for (; b0 + 4 * LB <= Bp; b0 += 4 * LB) FN(csr_tile_)(p + b0, col, val, k0, k1, x + b0, Bp, 4);
        for (; b0 + 2 * LB <= Bp; b0 += 2 * LB) FN(csr_tile_)(p + b0, col, val, k0, k1, x + b0, Bp, 2);
        for (; b0 < Bp; b0 += LB) FN(csr_tile_)(p + b0, col, val, k0, k1, x + b0, Bp, 1);
    }
}

/* dst (cols x rows) = src (rows x cols) transposed. */
static ESN_NOINLINE void FN(transpose_)(REAL *restrict dst, const REAL *restrict src, int64_t rows,
                                        int64_t cols) {
    for (int64_t r0 = 0; r0 < rows; r0 += 16)
        for (int64_t c0 = 0; c0 < cols; c0 += 16)
            for (int64_t r = r0; r < rows && r < r0 + 16; r++)
                for (int64_t c = c0; c < cols && c < c0 + 16; c++) dst[c * rows + r] = src[r * cols + c];
}

/* B is a compile-time 1 in the single-sequence instantiation, which turns the lane loops into
 * plain scalar code. A batch runs on B' lanes, B rounded up to whole vectors; the extra lanes
 * repeat sequence 0 (so they hold values that sequence holds) and are never written out. */
ESN_INLINE int FN(run_)(const esn_args *a, const int64_t B) {
    const int64_t T = a->steps, N = a->size, D = a->n_out;
    const int64_t Bp = B == 1 ? 1 : (B + LB - 1) / LB * LB;
    const int64_t *restrict row_ptr = a->row_ptr;
    const int32_t *restrict col = a->col;
    const REAL *restrict val = (const REAL *)a->val;
    const int64_t *restrict sell_ptr = a->sell_ptr;
    const int32_t *restrict sell_col = a->sell_col;
    const REAL *restrict sell_val = (const REAL *)a->sell_val;
    const REAL *restrict dense = (const REAL *)a->dense;
    const REAL *restrict leak = (const REAL *)a->leak;
    const REAL *restrict w_x = (const REAL *)a->w_x;
    const REAL *restrict w_y = (const REAL *)a->w_y;
    const REAL *restrict w_q = w_x ? (const REAL *)a->w_q : NULL;
    const REAL *restrict fb = (const REAL *)a->feedback;
    const REAL *drive = (const REAL *)a->drive;
    const REAL *ydrive = (const REAL *)a->ydrive;
    REAL *X = (REAL *)a->x, *Y = (REAL *)a->y;
    REAL *states = (REAL *)a->states, *outputs = (REAL *)a->outputs;
    const int has_y = Y != NULL && D > 0;
    const int seq_out = D >= ESN_SEQ_ROWS; /* the readout's order (see _kernel.c) */

    const REAL *in_v = (const REAL *)a->in_v, *restrict in_wt = (const REAL *)a->in_wt;
    const REAL *restrict in_bias = (const REAL *)a->in_bias;
    const int64_t K = in_bias ? a->n_in : 0;

    /* state, pre-activation, outputs, the drive's inputs of a step, and the weights of the sums
     * taken term after term in the layout their product wants: transposed for one sequence
     * (seq_one_: M, and W_x and W_y of many outputs), row-major for a batch (seq_batch_: W_v) */
    const int64_t Dy = has_y ? D : 0;
    const int one = B == 1;
    /* One sequence's drive of many inputs is computed ESN_DRIVE_STEPS steps at a time by
     * seq_batch_, the steps as its rows and the neurons as its lanes (the terms add in the order of
     * seq_one_'s): each weight loaded then serves that many steps, where step by step the whole of
     * W_v would stream from the cache for every step. */
    const int64_t TB = one && K >= ESN_DRIVE_BLOCK_K ? ESN_DRIVE_STEPS : 0;
    const int64_t n_fb = fb && one ? N * D : 0, n_wx = w_x && seq_out && one ? N * D : 0;
    const int64_t n_wy = w_y && seq_out && one ? D * D : 0, n_wv = K && !one ? N * K : 0;
    const int64_t n_wq = w_q && seq_out && one ? N * D : 0, n_sq = w_q ? N * Bp : 0;
    /* aligned to a cache line: a batch's rows (B' values, whole vectors) then start on one, and no
     * vector load straddles two lines (which costs two: 16 forecasts in a batch took 1.27x as long
     * in processes where malloc's address happened not to be aligned) */
    const int64_t n_buf = (2 * N + 2 * Dy + K) * Bp + n_fb + n_wx + n_wy + n_wv + N * TB + n_wq + n_sq + 1;
    void *raw = malloc(sizeof(REAL) * (size_t)n_buf + 64);
    if (!raw) return ESN_NOMEM;
    REAL *buf = (REAL *)((uintptr_t)raw + 64 - (uintptr_t)raw % 64);
    REAL *x = buf, *pre = buf + N * Bp;
    REAL *y = pre + N * Bp, *ynew = y + Dy * Bp, *vk = ynew + Dy * Bp;
    REAL *fbt = vk + K * Bp, *wxt = fbt + n_fb, *wyt = wxt + n_wx, *wv = wyt + n_wy;
    REAL *dblk = wv + n_wv; /* TB steps of the drive, TB x N */
    REAL *wqt = dblk + N * TB, *xsq = wqt + n_wq; /* W_q transposed; the squared state */
    if (n_fb) FN(transpose_)(fbt, fb, N, D);
    if (n_wx) FN(transpose_)(wxt, w_x, D, N);
    if (n_wy) FN(transpose_)(wyt, w_y, D, D);
    if (n_wq) FN(transpose_)(wqt, w_q, D, N);
    if (n_wv) FN(transpose_)(wv, in_wt, K, N);

    /* lane b of the batch reads sequence src(b) */
#define SRC(b) ((b) < B ? (b) : 0)
    for (int64_t b = 0; b < Bp; b++)
        for (int64_t i = 0; i < N; i++) x[i * Bp + b] = X[SRC(b) * N + i];
    if (has_y)
        for (int64_t b = 0; b < Bp; b++)
            for (int64_t d = 0; d < D; d++) y[d * Bp + b] = Y[SRC(b) * D + d];

    for (int64_t t = 0; t < T; t++) {
        if (in_bias) {
            /* the drive computed here costs K multiply-adds per neuron, less than reading it from
             * a (B, T, N) buffer that would first have to be written */
            if (TB) {
                const int64_t tt = t % TB;
                if (tt == 0) {
                    const int64_t steps = T - t < TB ? T - t : TB;
                    for (int64_t l = 0; l < steps; l++)
                        memcpy(dblk + l * N, in_bias, sizeof(REAL) * (size_t)N);
                    FN(seq_batch_)(dblk, N, in_v + t * a->in_ts, a->in_ts, in_wt, N, steps, K, N);
                }
                memcpy(pre, dblk + tt * N, sizeof(REAL) * (size_t)N);
            } else if (B == 1) {
                FN(seq_one_)(pre, in_bias, in_wt, N, K, K ? in_v + t * a->in_ts : NULL);
            } else {
                for (int64_t i = 0; i < N; i++) {
                    const REAL bi = in_bias[i];
                    for (int64_t b = 0; b < Bp; b++) pre[i * Bp + b] = bi;
                }
                if (K) {
                    for (int64_t b = 0; b < Bp; b++) {
                        const REAL *v = in_v + SRC(b) * a->in_bs + t * a->in_ts;
                        for (int64_t k = 0; k < K; k++) vk[k * Bp + b] = v[k];
                    }
                    FN(seq_batch_)(pre, Bp, wv, K, vk, Bp, N, K, Bp);
                }
            }
        } else if (B == 1 || a->drive_bs != 0) {
            /* transposed into the neuron-major buffer tile by tile, so that both the rows read
             * and the cache lines written stay in L1 */
            for (int64_t i0 = 0; i0 < N; i0 += 16) {
                const int64_t i1 = i0 + 16 < N ? i0 + 16 : N;
                for (int64_t b = 0; b < Bp; b++) {
                    const REAL *dr = drive + SRC(b) * a->drive_bs + t * a->drive_ts;
                    for (int64_t i = i0; i < i1; i++) pre[i * Bp + b] = dr[i];
                }
            }
        } else {
            const REAL *dr = drive + t * a->drive_ts; /* the same drive for every sequence */
            for (int64_t i = 0; i < N; i++) {
                const REAL v = dr[i];
                for (int64_t b = 0; b < Bp; b++) pre[i * Bp + b] = v;
            }
        }
        if (dense) {
            if (B == 1)
                for (int64_t r = 0; r < N; r++) pre[r] += FN(dot_)(dense + r * N, x, N);
            else
                FN(part_batch_)(pre, dense, N, N, x, Bp);
        } else if (B == 1) {
            FN(sell_matvec_)(N, sell_ptr, sell_col, sell_val, x, pre);
        } else {
            FN(csr_batch_)(pre, row_ptr, col, val, x, N, Bp);
        }
        if (fb) {
            if (B == 1)
                FN(seq_one_)(pre, pre, fbt, N, D, y);
            else
                FN(seq_batch_)(pre, Bp, fb, D, y, Bp, N, D, Bp);
        }
        if (B == 1)
            FN(activate_)(pre, N, a->activation);
        else
            FN(activate_wide_)(pre, N * Bp, a->activation);
        if (leak) {
            for (int64_t i = 0; i < N; i++) {
                const REAL l = leak[i];
                /* a neuron without leak takes f(pre) exactly, as it does when no neuron leaks: an
                 * ensemble mixing leaky and non-leaky members then matches each member run alone */
#pragma omp simd
                for (int64_t b = 0; b < Bp; b++) {
                    const REAL xo = x[i * Bp + b], h = pre[i * Bp + b];
                    x[i * Bp + b] = l == (REAL)1 ? h : xo + l * (h - xo);
                }
            }
        } else {
            REAL *tmp = x;
            x = pre;
            pre = tmp;
        }
        if (w_x) {
            for (int64_t b = 0; b < Bp; b++) {
                const REAL *yd = ydrive + SRC(b) * a->ydrive_bs + t * a->ydrive_ts;
                for (int64_t d = 0; d < D; d++) ynew[d * Bp + b] = yd[d];
            }
            if (w_q)
#pragma omp simd
                for (int64_t i = 0; i < N * Bp; i++) xsq[i] = x[i] * x[i];
            if (seq_out && B == 1) {
                FN(seq_one_)(ynew, ynew, wxt, D, N, x);
                if (w_y) FN(seq_one_)(ynew, ynew, wyt, D, D, y);
                if (w_q) FN(seq_one_)(ynew, ynew, wqt, D, N, xsq);
            } else if (seq_out) {
                FN(seq_batch_)(ynew, Bp, w_x, N, x, Bp, D, N, Bp);
                if (w_y) FN(seq_batch_)(ynew, Bp, w_y, D, y, Bp, D, D, Bp);
                if (w_q) FN(seq_batch_)(ynew, Bp, w_q, N, xsq, Bp, D, N, Bp);
            } else if (B == 1) {
                for (int64_t d = 0; d < D; d++) ynew[d] += FN(dot_)(w_x + d * N, x, N);
                if (w_y)
                    for (int64_t d = 0; d < D; d++) ynew[d] += FN(dot_)(w_y + d * D, y, D);
                if (w_q)
                    for (int64_t d = 0; d < D; d++) ynew[d] += FN(dot_)(w_q + d * N, xsq, N);
            } else {
                FN(part_batch_)(ynew, w_x, D, N, x, Bp);
                if (w_y) FN(part_batch_)(ynew, w_y, D, D, y, Bp);
                if (w_q) FN(part_batch_)(ynew, w_q, D, N, xsq, Bp);
            }
            REAL *tmp = y;
            y = ynew;
            ynew = tmp;
            if (outputs)
                for (int64_t b = 0; b < B; b++) {
                    REAL *o = outputs + b * a->outputs_bs + t * a->outputs_ts;
                    for (int64_t d = 0; d < D; d++) o[d] = y[d * Bp + b];
                }
        }
        if (states && B == 1) {
            memcpy(states + t * a->states_ts, x, sizeof(REAL) * (size_t)N);
        } else if (states) {
            for (int64_t b = 0; b < B; b++) {
                REAL *s = states + b * a->states_bs + t * a->states_ts;
                for (int64_t i = 0; i < N; i++) s[i] = x[i * Bp + b];
            }
        }
    }
#undef SRC

    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < N; i++) X[b * N + i] = x[i * Bp + b];
    if (has_y)
        for (int64_t b = 0; b < B; b++)
            for (int64_t d = 0; d < D; d++) Y[b * D + d] = y[d * Bp + b];
    free(raw);
    return ESN_OK;
}

/* The two instantiations, each a function of its own: inlined together into one, the registers
 * they share ran out, and the one-sequence loop kept its pointers on the stack (a harvest took
 * 1.1x as long). */
static ESN_NOINLINE int FN(run_one_)(const esn_args *a) { return FN(run_)(a, 1); }
static ESN_NOINLINE int FN(run_batch_)(const esn_args *a) { return FN(run_)(a, a->batch); }

int FN(esn_run_)(const esn_args *a) {
    if (!a || a->batch < 1 || a->size < 1 || a->steps < 0 || a->n_out < 0) return ESN_BADARG;
    if (!a->dense && a->batch == 1 && !(a->sell_ptr && a->sell_col && a->sell_val)) return ESN_BADARG;
    if (!a->dense && a->batch > 1 && !(a->row_ptr && a->col && a->val)) return ESN_BADARG;
    if ((!a->drive && !a->in_bias) || !a->x || ((a->w_x || a->feedback) && !a->y)) return ESN_BADARG;
    if (a->in_bias && a->n_in > 0 && !(a->in_v && a->in_wt)) return ESN_BADARG;
    if (a->w_x && !a->ydrive) return ESN_BADARG;
    return a->batch == 1 ? FN(run_one_)(a) : FN(run_batch_)(a);
}

#undef FN
#undef VW
#undef LB
#undef MADD
#undef ESN_GLUE
#undef ESN_GLUE2
