/* The time loop, written once for a floating type: _kernel.c includes this file with REAL, SUFFIX
 * and TANH defined (double/f64/tanh_d and float/f32/tanh_f). No include guard on purpose. */

#define ESN_GLUE2(a, b) a##b
#define ESN_GLUE(a, b) ESN_GLUE2(a, b)
#define FN(name) ESN_GLUE(name, SUFFIX)
/* The batched update keeps blocks of four 256-bit vectors of sequences in registers across a
 * row's nonzeros (GCC/Clang vector extensions; updating pre in memory for every nonzero stalls
 * on store-to-load forwarding, and the auto-vectoriser turns the lane loop into gathers). */
typedef REAL FN(vec_) __attribute__((vector_size(32)));
#define VW ((int64_t)(32 / sizeof(REAL)))
static inline FN(vec_) FN(load_)(const REAL *p) {
    FN(vec_) v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void FN(activate_)(REAL *restrict v, int64_t n, int64_t act) {
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

/* The dot product of a row of a dense matrix with a vector, in four vector accumulators: one
 * accumulator is a single chain of dependent FMAs, bound by their latency (a quarter of what the
 * FMA units can do). */
static inline REAL FN(dot_)(const REAL *restrict a, const REAL *restrict b, int64_t n) {
    FN(vec_) s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    int64_t c = 0;
    for (; c + 4 * VW <= n; c += 4 * VW) {
        s0 += FN(load_)(a + c) * FN(load_)(b + c);
        s1 += FN(load_)(a + c + VW) * FN(load_)(b + c + VW);
        s2 += FN(load_)(a + c + 2 * VW) * FN(load_)(b + c + 2 * VW);
        s3 += FN(load_)(a + c + 3 * VW) * FN(load_)(b + c + 3 * VW);
    }
    for (; c + VW <= n; c += VW) s0 += FN(load_)(a + c) * FN(load_)(b + c);
    s0 = (s0 + s1) + (s2 + s3);
    REAL s = 0;
    for (int64_t i = 0; i < VW; i++) s += s0[i];
    for (; c < n; c++) s += a[c] * b[c];
    return s;
}

/* out (rows x B, neuron-major) += M (rows x cols, row-major) v (cols x B): dense W, the feedback
 * matrix and both readout terms. For one sequence a dot product per row; for a batch the sequence
 * lanes are the vector. */
static inline __attribute__((always_inline)) void FN(dense_acc_)(
    REAL *restrict out, const REAL *restrict M, int64_t rows, int64_t cols, const REAL *restrict v,
    const int64_t B) {
    if (B == 1 && cols < VW) {
        /* a few columns (the feedback of a few outputs): what dot_ computes for them, without
         * its vector set-up and horizontal sum per row, which cost generation more than the rest
         * of its readout and feedback */
        for (int64_t r = 0; r < rows; r++) {
            REAL s = 0;
            for (int64_t c = 0; c < cols; c++) s += M[r * cols + c] * v[c];
            out[r] += s;
        }
        return;
    }
    for (int64_t r = 0; r < rows; r++) {
        const REAL *restrict mr = M + r * cols;
        if (B == 1) {
            out[r] += FN(dot_)(mr, v, cols);
        } else {
            REAL *restrict o = out + r * B;
            for (int64_t c = 0; c < cols; c++) {
                const REAL w = mr[c], *restrict vc = v + c * B;
#pragma omp simd
                for (int64_t b = 0; b < B; b++) o[b] += w * vc[b];
            }
        }
    }
}

/* B is a compile-time 1 in the single-sequence instantiation, which turns the lane loops into
 * plain scalar code and the dot products into register accumulations. */
static inline __attribute__((always_inline)) int FN(run_)(const esn_args *a, const int64_t B) {
    const int64_t T = a->steps, N = a->size, D = a->n_out;
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
    const REAL *restrict fb = (const REAL *)a->feedback;
    const REAL *drive = (const REAL *)a->drive;
    const REAL *ydrive = (const REAL *)a->ydrive;
    REAL *X = (REAL *)a->x, *Y = (REAL *)a->y;
    REAL *states = (REAL *)a->states, *outputs = (REAL *)a->outputs;
    const int has_y = Y != NULL && D > 0;

    const REAL *in_v = (const REAL *)a->in_v, *restrict in_wt = (const REAL *)a->in_wt;
    const REAL *restrict in_bias = (const REAL *)a->in_bias;
    const int64_t K = in_bias ? a->n_in : 0;

    REAL *buf = (REAL *)malloc(sizeof(REAL) * (size_t)(2 * N * B + 2 * (has_y ? D : 0) * B + B + 1));
    if (!buf) return ESN_NOMEM;
    REAL *x = buf, *pre = buf + N * B;
    REAL *y = pre + N * B, *ynew = y + (has_y ? D : 0) * B, *vk = ynew + (has_y ? D : 0) * B;

    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < N; i++) x[i * B + b] = X[b * N + i];
    if (has_y)
        for (int64_t b = 0; b < B; b++)
            for (int64_t d = 0; d < D; d++) y[d * B + b] = Y[b * D + d];

    for (int64_t t = 0; t < T; t++) {
        if (in_bias) {
            /* the drive computed here costs K multiply-adds per neuron, less than reading it from
             * a (B, T, N) buffer that would first have to be written */
            for (int64_t i = 0; i < N; i++) {
                const REAL bi = in_bias[i];
                for (int64_t b = 0; b < B; b++) pre[i * B + b] = bi;
            }
            for (int64_t k = 0; k < K; k++) {
                const REAL *restrict w = in_wt + k * N;
                for (int64_t b = 0; b < B; b++) vk[b] = in_v[b * a->in_bs + t * a->in_ts + k];
                for (int64_t i = 0; i < N; i++) {
                    const REAL wi = w[i];
#pragma omp simd
                    for (int64_t b = 0; b < B; b++) pre[i * B + b] += wi * vk[b];
                }
            }
        } else if (B == 1 || a->drive_bs != 0) {
            /* transposed into the neuron-major buffer tile by tile, so that both the rows read
             * and the cache lines written stay in L1 */
            for (int64_t i0 = 0; i0 < N; i0 += 16) {
                const int64_t i1 = i0 + 16 < N ? i0 + 16 : N;
                for (int64_t b = 0; b < B; b++) {
                    const REAL *dr = drive + b * a->drive_bs + t * a->drive_ts;
                    for (int64_t i = i0; i < i1; i++) pre[i * B + b] = dr[i];
                }
            }
        } else {
            const REAL *dr = drive + t * a->drive_ts; /* the same drive for every sequence */
            for (int64_t i = 0; i < N; i++) {
                const REAL v = dr[i];
                for (int64_t b = 0; b < B; b++) pre[i * B + b] = v;
            }
        }
        if (dense) {
            FN(dense_acc_)(pre, dense, N, N, x, B);
        } else if (B == 1) {
            FN(sell_matvec_)(N, sell_ptr, sell_col, sell_val, x, pre);
        } else {
            /* CSR for a batch (one sequence always comes as SELL) */
            for (int64_t i = 0; i < N; i++) {
                REAL *restrict p = pre + i * B;
                int64_t b0 = 0;
                for (; b0 + 4 * VW <= B; b0 += 4 * VW) {
                    FN(vec_) a0 = FN(load_)(p + b0), a1 = FN(load_)(p + b0 + VW);
                    FN(vec_) a2 = FN(load_)(p + b0 + 2 * VW), a3 = FN(load_)(p + b0 + 3 * VW);
                    for (int64_t k = row_ptr[i]; k < row_ptr[i + 1]; k++) {
                        const REAL w = val[k], *xj = x + (int64_t)col[k] * B + b0;
                        a0 += w * FN(load_)(xj);
                        a1 += w * FN(load_)(xj + VW);
                        a2 += w * FN(load_)(xj + 2 * VW);
                        a3 += w * FN(load_)(xj + 3 * VW);
                    }
                    memcpy(p + b0, &a0, sizeof a0);
                    memcpy(p + b0 + VW, &a1, sizeof a1);
                    memcpy(p + b0 + 2 * VW, &a2, sizeof a2);
                    memcpy(p + b0 + 3 * VW, &a3, sizeof a3);
                }
                for (int64_t k = row_ptr[i]; k < row_ptr[i + 1] && b0 < B; k++) {
                    const REAL w = val[k], *restrict xj = x + (int64_t)col[k] * B;
                    for (int64_t b = b0; b < B; b++) p[b] += w * xj[b];
                }
            }
        }
        if (fb) FN(dense_acc_)(pre, fb, N, D, y, B);
        FN(activate_)(pre, N * B, a->activation);
        if (leak) {
            for (int64_t i = 0; i < N; i++) {
                const REAL l = leak[i];
                /* a neuron without leak takes f(pre) exactly, as it does when no neuron leaks: an
                 * ensemble mixing leaky and non-leaky members then matches each member run alone */
#pragma omp simd
                for (int64_t b = 0; b < B; b++) {
                    const REAL xo = x[i * B + b], h = pre[i * B + b];
                    x[i * B + b] = l == (REAL)1 ? h : xo + l * (h - xo);
                }
            }
        } else {
            REAL *tmp = x;
            x = pre;
            pre = tmp;
        }
        if (w_x) {
            for (int64_t b = 0; b < B; b++) {
                const REAL *yd = ydrive + b * a->ydrive_bs + t * a->ydrive_ts;
                for (int64_t d = 0; d < D; d++) ynew[d * B + b] = yd[d];
            }
            FN(dense_acc_)(ynew, w_x, D, N, x, B);
            if (w_y) FN(dense_acc_)(ynew, w_y, D, D, y, B);
            REAL *tmp = y;
            y = ynew;
            ynew = tmp;
            if (outputs)
                for (int64_t b = 0; b < B; b++) {
                    REAL *o = outputs + b * a->outputs_bs + t * a->outputs_ts;
                    for (int64_t d = 0; d < D; d++) o[d] = y[d * B + b];
                }
        }
        if (states)
            for (int64_t b = 0; b < B; b++) {
                REAL *s = states + b * a->states_bs + t * a->states_ts;
                for (int64_t i = 0; i < N; i++) s[i] = x[i * B + b];
            }
    }

    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < N; i++) X[b * N + i] = x[i * B + b];
    if (has_y)
        for (int64_t b = 0; b < B; b++)
            for (int64_t d = 0; d < D; d++) Y[b * D + d] = y[d * B + b];
    free(buf);
    return ESN_OK;
}

int FN(esn_run_)(const esn_args *a) {
    if (!a || a->batch < 1 || a->size < 1 || a->steps < 0 || a->n_out < 0) return ESN_BADARG;
    if (!a->dense && a->batch == 1 && !(a->sell_ptr && a->sell_col && a->sell_val)) return ESN_BADARG;
    if (!a->dense && a->batch > 1 && !(a->row_ptr && a->col && a->val)) return ESN_BADARG;
    if ((!a->drive && !a->in_bias) || !a->x || ((a->w_x || a->feedback) && !a->y)) return ESN_BADARG;
    if (a->in_bias && a->n_in > 0 && !(a->in_v && a->in_wt)) return ESN_BADARG;
    if (a->w_x && !a->ydrive) return ESN_BADARG;
    if (a->batch == 1) return FN(run_)(a, 1);
    return FN(run_)(a, a->batch);
}

#undef FN
#undef VW
#undef ESN_GLUE
#undef ESN_GLUE2
