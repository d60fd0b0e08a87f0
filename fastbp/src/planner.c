/* The planner (see planner.h): which code computes each product, and the one table
   of thresholds it chooses by. */
#include "planner.h"
#include "kernels.h"

/* The thresholds, one row each: its value for the AVX-512 kernels, the AVX2 ones,
   and none (no own kernels: the BLAS alone), and the first words of the row of
   benchmarks/tried.md whose A/B set it. */
enum {
    LIMIT_GEMM_MIN_BATCH,       /* the own GEMM for products of batches of >= rows */
    LIMIT_BLAS_THREADED_WORK,   /* multiply-adds from which the BLAS uses threads */
    LIMIT_DOTS_MAX_ROWS,        /* X W^T of at most this many rows: the dots kernel */
    LIMIT_NARROW_MIN_ROWS,      /* a layer's product of at least this many rows ... */
    LIMIT_NARROW_MAX_WIDTH,     /* ... through at most this many neurons: narrow */
    LIMIT_NARROW_THREAD_ROWS,   /* the narrow kernel's least rows per thread */
    LIMIT_GEMM_TILE_FILL,       /* there, the own GEMM if it fills this share of its
                                   column tiles ... */
    LIMIT_GEMM_NARROW_F64_ROWS, /* ... or, in float64, below this many rows */
    LIMIT_TRANSPOSE_MIN_ROWS,   /* a layer's product by the BLAS as (W X^T)^T from ... */
    LIMIT_TRANSPOSE_MAX_WIDTH,  /* ... this many rows, through at most this many */
    LIMIT_GEMV_SHARE_BYTES,     /* one example shares a W of this many bytes or more */
    LIMIT_GEMM_SPLIT_K,         /* the own GEMM's op(A)^T op(B) (BP4) of this many terms
                                   or more ... */
    LIMIT_GEMM_K_BLOCK,         /* ... runs as blocks of this many, each added to C */
    LIMIT_BP4_MAX_K,            /* A^T B of at most this many terms that the own GEMM
                                   would take: the bp4 kernel */
    LIMIT_COUNT
};

static const struct {
    const char* name;
    double value[3];            /* AVX-512, AVX2, none */
    const char* tried;
} fastbp_limits[LIMIT_COUNT] = {
    [LIMIT_GEMM_MIN_BATCH] = {"gemm_min_batch", {32, 32, 32},
        "Our own GEMM for the products of mini-batch training"},
    [LIMIT_BLAS_THREADED_WORK] = {"blas_threaded_work", {524288, 524288, 524288},
        "Batches under 32 rows (W2: [784, 100, 10], batch 10) on 2 threads"},
    [LIMIT_DOTS_MAX_ROWS] = {"dots_max_rows", {16, 16, 0},
        "The dots kernel's row limit"},
    [LIMIT_NARROW_MIN_ROWS] = {"narrow_min_rows", {256, 256, 256},
        "Our own kernel for X wᵀ with ≥ 256 rows and ≤ 64 neurons"},
    [LIMIT_NARROW_MAX_WIDTH] = {"narrow_max_width", {64, 64, 64},
        "Our own kernel for X wᵀ with ≥ 256 rows and ≤ 64 neurons"},
    [LIMIT_NARROW_THREAD_ROWS] = {"narrow_thread_rows", {1024, 1024, 1024},
        "The narrow-layer kernel's rows split between as many threads"},
    [LIMIT_GEMM_TILE_FILL] = {"gemm_tile_fill", {0.75, 0.75, 0.75},
        "Inference through a layer that fills at least 3/4 of our GEMM's"},
    [LIMIT_GEMM_NARROW_F64_ROWS] = {"gemm_narrow_f64_rows", {2048, 2048, 2048},
        "float64 inference of 256–2,047 rows through a layer of ≤ 64 neurons"},
    [LIMIT_TRANSPOSE_MIN_ROWS] = {"transpose_min_rows", {1024, 1024, 1024},
        "Feedforward of ≥ 1024 rows through a layer of ≤ 64 neurons"},
    [LIMIT_TRANSPOSE_MAX_WIDTH] = {"transpose_max_width", {64, 64, 64},
        "Feedforward of ≥ 1024 rows through a layer of ≤ 64 neurons"},
    [LIMIT_GEMV_SHARE_BYTES] = {"gemv_share_bytes", {262144, 131072, 131072},
        "One example's product shared with a worker from 256 KB of W on AVX-512"},
    [LIMIT_GEMM_SPLIT_K] = {"gemm_split_k", {2048, 2048, 0},
        "The own GEMM's BP4 of thousands of rows in blocks of 256 rows"},
    [LIMIT_GEMM_K_BLOCK] = {"gemm_k_block", {256, 256, 0},
        "The own GEMM's BP4 of thousands of rows in blocks of 256 rows"},
    [LIMIT_BP4_MAX_K] = {"bp4_max_k", {16, 16, 0},
        "The \"bp4\" kernel for C = alpha Aᵀ B + beta C over at most 16 rows"},
};

/* Threads without a limit from the shape (the thread limit applies). */
#define FASTBP_PLAN_ANY_THREADS (1 << 16)

static double fastbp_limit(int row) {
    return fastbp_limits[row].value[fastbp_kernels_column()];
}

const char* fastbp_plan_limit(int i, double* value, const char** tried) {
    if (i < 0 || i >= LIMIT_COUNT) return NULL;
    *value = fastbp_limit(i);
    *tried = fastbp_limits[i].tried;
    return fastbp_limits[i].name;
}

int fastbp_plan_scratch(ptrdiff_t m, ptrdiff_t n) {
    return m >= fastbp_limit(LIMIT_TRANSPOSE_MIN_ROWS)
           && n <= fastbp_limit(LIMIT_TRANSPOSE_MAX_WIDTH);
}

int fastbp_plan_gather_ahead(ptrdiff_t batch, double work) {
    return batch < fastbp_limit(LIMIT_GEMM_MIN_BATCH)
           && work < fastbp_limit(LIMIT_BLAS_THREADED_WORK);
}

int fastbp_plan_narrow_thread_rows(void) {
    return (int)fastbp_limit(LIMIT_NARROW_THREAD_ROWS);
}

static fastbp_plan_t fastbp_path(int path, int threads) {
    fastbp_plan_t plan = {path, threads, 0, 0, 0};
    return plan;
}

fastbp_plan_t fastbp_plan(int at, int bt, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                          ptrdiff_t batch, int elem_bytes, int flags, unsigned declined) {
    const int own = fastbp_own_kernels_active();
    const double work = (double)m * n * k;
#define OFFERED(path) (own && !(declined & (1u << (path))))
    if (flags & FASTBP_PLAN_LAYER) {
        /* Many rows through few neurons: the own GEMM where the layer fills enough of
           its column tiles (one tile: X is read once) or, in float64, below a size
           where the narrow kernel's rows go to two threads; else the narrow kernel.
           Both check X for NaN and inf while they read it. */
        if (m >= fastbp_limit(LIMIT_NARROW_MIN_ROWS) && n <= fastbp_limit(LIMIT_NARROW_MAX_WIDTH)) {
            ptrdiff_t tile = fastbp_gemm_tile_bytes() / elem_bytes;
            if (tile < 1) tile = 1;
            const ptrdiff_t tiled = (n + tile - 1) / tile * tile;
            if (OFFERED(FASTBP_PATH_GEMM)
                    && (n >= fastbp_limit(LIMIT_GEMM_TILE_FILL) * tiled
                        || (elem_bytes == 8 && m < fastbp_limit(LIMIT_GEMM_NARROW_F64_ROWS)))) {
                fastbp_plan_t plan = fastbp_path(FASTBP_PATH_GEMM, FASTBP_PLAN_ANY_THREADS);
                plan.checks = (flags & FASTBP_PLAN_CHECK) != 0;
                return plan;
            }
            if (OFFERED(FASTBP_PATH_NARROW)) {
                fastbp_plan_t plan = fastbp_path(FASTBP_PATH_NARROW, FASTBP_PLAN_ANY_THREADS);
                plan.checks = (flags & FASTBP_PLAN_CHECK) != 0;
                return plan;
            }
        }
        if (m == 1) {
            if (OFFERED(FASTBP_PATH_GEMV)) {
                fastbp_plan_t plan = fastbp_path(FASTBP_PATH_GEMV, 1);
                plan.share = (double)n * k * elem_bytes >= fastbp_limit(LIMIT_GEMV_SHARE_BYTES);
                return plan;
            }
            return fastbp_path(FASTBP_PATH_BLAS_GEMV, 1);
        }
        if ((flags & FASTBP_PLAN_SCRATCH) && fastbp_plan_scratch(m, n))
            return fastbp_path(FASTBP_PATH_BLAS_T, FASTBP_PLAN_ANY_THREADS);
    }
    /* A few rows of X W^T (a mini-batch's forward product): the dots kernel, on one
       thread, at every batch size. */
    if (!at && bt && m <= fastbp_limit(LIMIT_DOTS_MAX_ROWS) && OFFERED(FASTBP_PATH_DOTS))
        return fastbp_path(FASTBP_PATH_DOTS, 1);
    const int threaded = work >= fastbp_limit(LIMIT_BLAS_THREADED_WORK);
    /* BP4's update at a mini-batch (w += alpha Delta^T A_prev, k = the batch's rows)
       where the own GEMM would take it (W2's, which the BLAS would thread; W1's
       stays with the BLAS, no faster in an A/B): the bp4 kernel, on one thread. */
    if (at && !bt && k <= fastbp_limit(LIMIT_BP4_MAX_K) && OFFERED(FASTBP_PATH_BP4)
            && (batch >= fastbp_limit(LIMIT_GEMM_MIN_BATCH) || threaded))
        return fastbp_path(FASTBP_PATH_BP4, 1);
    /* Small batches' products stay with the BLAS's small-matrix kernels, except
       those it would split over threads (their bits would change with the count). */
    if (OFFERED(FASTBP_PATH_GEMM) && (batch >= fastbp_limit(LIMIT_GEMM_MIN_BATCH) || threaded)) {
        fastbp_plan_t plan = fastbp_path(FASTBP_PATH_GEMM, FASTBP_PLAN_ANY_THREADS);
        /* BP4 over thousands of rows (lbfgs's whole-set gradient): the GEMM packs
           op(B)'s k rows per column tile, and past L2 that panel ran it at half speed;
           blocks of k, summed into C in their order, keep it in cache. */
        if (at && k >= fastbp_limit(LIMIT_GEMM_SPLIT_K))
            plan.kc = (int)fastbp_limit(LIMIT_GEMM_K_BLOCK);
        return plan;
    }
#undef OFFERED
    return fastbp_path(FASTBP_PATH_BLAS, threaded ? FASTBP_PLAN_ANY_THREADS : 1);
}
