/* The products of the book's mini-batch training (batch 10, float64, 1 thread),
   timed by fastbp's own kernels (the forward product by the dots kernel, BP4 by the
   bp4 kernel, and BP4 by the packing GEMM too, which ran it before), by OpenBLAS and
   by LIBXSMM, alternated in rounds in one process, with the rate of a 2048 x 2048
   dgemm of the same run for reference.

   Built and run by benchmarks/small_products.py (which needs Debian's libxsmm-dev):
       small_products [path of the OpenBLAS library scipy uses]
   FASTBP_DISABLE_CPU_FEATURES chooses fastbp's kernels as in the package.

   Each implementation gets the layout it is fastest with. fastbp and OpenBLAS take
   w row-major, (n, 784), as fastbp stores it: the forward product is X w^T, BP4
   w += alpha D^T A. LIBXSMM's kernels (column-major, no transposed operand, alpha
   1) take w^T row-major, which is w column-major: the forward product is then
   w X^T with nothing transposed, and BP4 needs A^T (10 x 784 transposed; the
   mini-batch gather could write it so) with alpha folded into D beforehand (not
   timed). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libxsmm.h>
#include "kernels.h"

#define BATCH 10
#define INPUTS 784

typedef void (*dgemm_fn)(const char*, const char*, const int*, const int*, const int*,
                         const double*, const double*, const int*, const double*,
                         const int*, const double*, double*, const int*);
static dgemm_fn blas_dgemm;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* Row-major C = alpha op(A) op(B) + beta C through the column-major BLAS. */
static void blas_rowmajor(int at, int bt, int m, int n, int k, double alpha,
                          const double* a, int lda, const double* b, int ldb,
                          double beta, double* c, int ldc) {
    blas_dgemm(bt ? "T" : "N", at ? "T" : "N", &n, &m, &k, &alpha, b, &ldb, a, &lda,
               &beta, c, &ldc);
}

static double* filled(size_t count, unsigned seed) {
    double* p = aligned_alloc(64, (count * sizeof(double) + 63) / 64 * 64);
    srand(seed);
    for (size_t i = 0; i < count; i++) p[i] = (double)rand() / RAND_MAX - 0.5;
    return p;
}

enum { FASTBP, FASTBP_GEMM, OPENBLAS, LIBXSMM, IMPLS };
static const char* const impl_names[IMPLS] = {"fastbp", "fastbp's packing GEMM", "OpenBLAS",
                                              "LIBXSMM"};

typedef struct {
    int n;                        /* the layer's neurons */
    int bp4;                      /* 0: forward, 1: BP4 */
    double *x, *xt, *w, *wc, *d, *z;
    libxsmm_dmmfunction xsmm;
} product;

/* Whether this run has the implementation (fastbp's: where the CPU has its kernels;
   the packing GEMM: for BP4 only). */
static int has(const product* p, int impl) {
    if (impl == OPENBLAS) return blas_dgemm != NULL;
    if (impl == LIBXSMM) return p->xsmm != NULL;
    if (strcmp(fastbp_kernels_isa(), "none") == 0) return 0;
    return impl == FASTBP || p->bp4;
}

static void run(product* p, int impl) {
    const int n = p->n;
    if (!p->bp4) {
        if (impl == FASTBP)
            fastbp_dots_d(BATCH, n, INPUTS, 1, p->x, INPUTS, p->w, INPUTS, 0, p->z, n);
        else if (impl == OPENBLAS)
            blas_rowmajor(0, 1, BATCH, n, INPUTS, 1, p->x, INPUTS, p->w, INPUTS, 0,
                          p->z, n);
        else  /* z^T (n x 10, column-major: z row-major) = w (n x 784) x^T */
            p->xsmm(p->wc, p->x, p->z);
    } else {
        if (impl == FASTBP)
            fastbp_bp4_d(n, INPUTS, BATCH, -1e-3, p->d, n, p->x, INPUTS, 1, p->w, INPUTS);
        else if (impl == FASTBP_GEMM)
            fastbp_gemm_d(1, 0, n, INPUTS, BATCH, -1e-3, p->d, n, p->x, INPUTS, 1,
                          p->w, INPUTS, 1, NULL);
        else if (impl == OPENBLAS)
            blas_rowmajor(1, 0, n, INPUTS, BATCH, -1e-3, p->d, n, p->x, INPUTS, 1,
                          p->w, INPUTS);
        else  /* w (n x 784, column-major) += D^T (n x 10) A (10 x 784) */
            p->xsmm(p->d, p->xt, p->wc);
    }
}

int main(int argc, char** argv) {
    const char* disable = getenv("FASTBP_DISABLE_CPU_FEATURES");
    const int rounds = 15, calls = 300;
    fastbp_cpu_init(disable);
    libxsmm_init();
    if (argc > 1) {
        void* lib = dlopen(argv[1], RTLD_NOW);
        const char* names[] = {"scipy_dgemm_", "dgemm_", NULL};
        void (*set_threads)(int) = NULL;
        for (int i = 0; lib && names[i] && !blas_dgemm; i++)
            blas_dgemm = (dgemm_fn)dlsym(lib, names[i]);
        if (lib) {
            set_threads = (void (*)(int))dlsym(lib, "scipy_openblas_set_num_threads");
            if (!set_threads) set_threads = (void (*)(int))dlsym(lib, "openblas_set_num_threads");
        }
        if (set_threads) set_threads(1);
    }
    printf("fastbp kernels: %s; OpenBLAS: %s\n", fastbp_kernels_isa(),
           blas_dgemm ? argv[1] : "not given");

    double ref = 0;
    if (blas_dgemm) {   /* the 2048 x 2048 dgemm rate, best of 3 */
        const int s = 2048;
        double *a = filled((size_t)s * s, 1), *b = filled((size_t)s * s, 2),
               *c = filled((size_t)s * s, 3);
        for (int r = 0; r < 3; r++) {
            double t = now();
            blas_rowmajor(0, 0, s, s, s, 1, a, s, b, s, 0, c, s);
            t = now() - t;
            if (2.0 * s * s * s / t > ref) ref = 2.0 * s * s * s / t;
        }
        free(a); free(b); free(c);
        printf("2048^2 dgemm, 1 thread: %.1f GFLOP/s\n", ref * 1e-9);
    }

    const int widths[] = {30, 100};
    printf("\n| product | impl | us per call: best (median) of %d x %d | GFLOP/s (best) | of the dgemm rate |\n",
           rounds, calls);
    printf("| --- | --- | --- | --- | --- |\n");
    for (int wi = 0; wi < 2; wi++)
        for (int bp4 = 0; bp4 < 2; bp4++) {
            product p = {widths[wi], bp4};
            const int n = p.n;
            const double zero = 0, one = 1;
            const int m_ = n, ldn = n;
            p.x = filled(BATCH * INPUTS, 4);
            p.xt = filled(BATCH * INPUTS, 5);
            for (int i = 0; i < BATCH; i++)
                for (int j = 0; j < INPUTS; j++) p.xt[j * BATCH + i] = p.x[i * INPUTS + j];
            p.w = filled((size_t)n * INPUTS, 6);
            p.wc = filled((size_t)n * INPUTS, 7);
            for (int i = 0; i < n; i++)
                for (int j = 0; j < INPUTS; j++) p.wc[j * n + i] = p.w[i * INPUTS + j];
            p.d = filled((size_t)BATCH * n, 8);
            p.z = filled((size_t)BATCH * n, 9);
            if (!bp4) {
                const int ldx = INPUTS;
                p.xsmm = libxsmm_dmmdispatch(m_, BATCH, INPUTS, &ldn, &ldx, &ldn, &one,
                                             &zero, NULL, NULL);
            } else {
                const int ldxt = BATCH;
                p.xsmm = libxsmm_dmmdispatch(m_, INPUTS, BATCH, &ldn, &ldxt, &ldn, &one,
                                             &one, NULL, NULL);
            }
            if (!bp4) {   /* the three forward results must agree */
                double* z0 = malloc(sizeof(double) * BATCH * n);
                double worst = 0, scale = 0;
                run(&p, FASTBP);
                for (int i = 0; i < BATCH * n; i++)
                    if (p.z[i] > scale || -p.z[i] > scale) scale = p.z[i] < 0 ? -p.z[i] : p.z[i];
                memcpy(z0, p.z, sizeof(double) * BATCH * n);
                for (int impl = OPENBLAS; impl < IMPLS; impl++) {
                    if (!has(&p, impl)) continue;
                    run(&p, impl);
                    for (int i = 0; i < BATCH * n; i++) {
                        double e = (p.z[i] - z0[i]) / scale;
                        if (e < 0) e = -e;
                        if (e > worst) worst = e;
                    }
                }
                free(z0);
                if (worst > 1e-13) {
                    fprintf(stderr, "forward %d: results differ (%g)\n", n, worst);
                    return 1;
                }
            } else {   /* fastbp's two BP4 paths and OpenBLAS's must agree */
                const size_t size = sizeof(double) * n * INPUTS;
                double *w0 = p.w, *w1 = malloc(size), *w2 = malloc(size);
                double worst = 0;
                memcpy(w1, w0, size);
                memcpy(w2, w0, size);
                run(&p, FASTBP);
                p.w = w1;
                if (has(&p, FASTBP_GEMM)) run(&p, FASTBP_GEMM);
                p.w = w2;
                if (has(&p, OPENBLAS)) run(&p, OPENBLAS);
                p.w = w0;
                for (int i = 0; i < n * INPUTS; i++) {
                    const double e1 = (w1[i] - w0[i]) / 1e-3, e2 = (w2[i] - w0[i]) / 1e-3;
                    if (e1 > worst || -e1 > worst) worst = e1 < 0 ? -e1 : e1;
                    if (e2 > worst || -e2 > worst) worst = e2 < 0 ? -e2 : e2;
                }
                free(w1);
                free(w2);
                if (worst > 1e-13) {
                    fprintf(stderr, "BP4 %d: results differ (%g)\n", n, worst);
                    return 1;
                }
            }
            double times[IMPLS][64];
            for (int r = 0; r < rounds; r++)
                for (int j = 0; j < IMPLS; j++) {
                    const int impl = (j + r) % IMPLS;   /* rotate who goes first */
                    if (!has(&p, impl)) {
                        times[impl][r] = 0;
                        continue;
                    }
                    double t = now();
                    for (int c = 0; c < calls; c++) run(&p, impl);
                    times[impl][r] = (now() - t) / calls;
                }
            for (int impl = 0; impl < IMPLS; impl++) {
                double* t = times[impl];
                for (int i = 1; i < rounds; i++)   /* sort for the median */
                    for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
                        double s = t[j]; t[j] = t[j - 1]; t[j - 1] = s;
                    }
                const double best = t[0], med = t[rounds / 2];
                if (med == 0) continue;
                const double rate = 2.0 * BATCH * n * INPUTS / best;
                printf("| %s %dx%d by %dx%d | %s | %.1f (%.1f) | %.1f | ", bp4 ? "BP4" : "forward",
                       bp4 ? n : BATCH, bp4 ? BATCH : INPUTS, bp4 ? BATCH : INPUTS,
                       bp4 ? INPUTS : n, impl_names[impl], best * 1e6, med * 1e6,
                       rate * 1e-9);
                if (ref > 0) printf("%.0f %% |\n", 100 * rate / ref);
                else printf("- |\n");
            }
            free(p.x); free(p.xt); free(p.w); free(p.wc); free(p.d); free(p.z);
        }
    libxsmm_finalize();
    return 0;
}
