/* fastbp's planner: the one function that chooses which code computes a product.

   Every product of the engine (a layer's forward product in training and in
   inference, BP2, BP4 with its fused update, the lbfgs gradient's chunks) asks
   fastbp_plan for its path, from the product's shape, its context (the rows of the
   batch it belongs to; whether it is a layer's Z = X W^T, whose first layer may ask
   for a NaN/inf check of X), the element size, and the kernels the CPU's table
   offers (kernels.c). Every threshold it uses lives in one table in planner.c, each
   row naming the A/B in benchmarks/tried.md that justifies it.

   A plan depends on the shapes and the CPU alone, never on the thread count: the
   bits of a result must not change with it. */
#ifndef FASTBP_PLANNER_H
#define FASTBP_PLANNER_H
#include <stddef.h>

/* The paths. The own kernels (GEMM, DOTS, NARROW, GEMV, BP4) may decline a call (out of
   memory, a shape they do not take): the caller then asks again with that path's
   bit set in `declined`, and the planner chooses among the rest. */
enum {
    FASTBP_PATH_BLAS = 0,   /* the BLAS's gemm */
    FASTBP_PATH_BLAS_T,     /* a layer's Z^T = W X^T by the BLAS, then transposed back */
    FASTBP_PATH_GEMM,       /* fastbp's own GEMM (gemm_*.c) */
    FASTBP_PATH_DOTS,       /* the dots kernel: a few rows of X against W in place */
    FASTBP_PATH_NARROW,     /* the narrow kernel: many rows through few neurons */
    FASTBP_PATH_GEMV,       /* fastbp's own kernel for one example */
    FASTBP_PATH_BLAS_GEMV,  /* the BLAS's gemv, for one example */
    FASTBP_PATH_BP4,        /* the bp4 kernel: BP4's update over a few rows, in place */
    FASTBP_N_PATHS
};

/* What the product is. */
enum {
    FASTBP_PLAN_LAYER = 1,    /* a layer's Z = X W^T (alpha 1, beta 0) */
    FASTBP_PLAN_CHECK = 2,    /* with LAYER: whether X holds NaN or inf is wanted */
    FASTBP_PLAN_SCRATCH = 4   /* with LAYER: scratch for BLAS_T is there */
};

typedef struct {
    int path;
    int threads;   /* the most threads it uses (1: the calling thread alone) */
    int checks;    /* it reports whether X holds NaN or inf (CHECK asked) */
    int share;     /* GEMV: it may share the rows with an awake worker */
    int kc;        /* GEMM: run as blocks of kc of the k terms (0: whole) */
} fastbp_plan_t;

/* The path for C = alpha op(A) op(B) + beta C, op(A) (m, k), op(B) (k, n), in a
   batch of `batch` rows (a layer's product: batch = m), of elements of
   `elem_bytes` bytes. */
fastbp_plan_t fastbp_plan(int at, int bt, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                          ptrdiff_t batch, int elem_bytes, int flags, unsigned declined);

/* Whether a layer of m rows and n neurons may take BLAS_T (its caller then
   provides m * n elements of scratch). */
int fastbp_plan_scratch(ptrdiff_t m, ptrdiff_t n);
/* Whether training in batches of `batch` rows, whose largest product has `work`
   multiply-adds, gathers the next batch on a worker thread while it steps (every
   product then runs on the calling thread alone). */
int fastbp_plan_gather_ahead(ptrdiff_t batch, double work);
/* The narrow kernel's least rows per thread. */
int fastbp_plan_narrow_thread_rows(void);

/* The table (a test hook): row i's name, its value for the kernels in use (0 when
   none), and the heading of its A/B in benchmarks/tried.md; NULL past the end. */
const char* fastbp_plan_limit(int i, double* value, const char** tried);
#endif
