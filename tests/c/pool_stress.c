/* A stress test of fastbp's worker pool (fastbp/src/pool.c) for ThreadSanitizer:
   several caller threads at once share out sums with fastbp_run, start and finish
   tasks beside their own work (fastbp_start), and hand out and take back the
   one-example bursts' tasks (fastbp_pool_acquire_awake); every result is checked.
   Built and run by tests/test_native.py with -fsanitize=thread, which reports any
   data race as a failure.

   Usage: pool_stress [rounds]   (exit status 0: every result right) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pool.h"

#define CALLERS 3
#define LENGTH 4096

typedef struct {
    const double* x;
    long start, stop;
    double sum;
} sum_job;

static void* sum_task(void* arg) {
    sum_job* job = (sum_job*)arg;
    double s = 0;
    for (long i = job->start; i < job->stop; i++) s += job->x[i];
    job->sum = s;
    return NULL;
}

/* The sum of x[0 .. LENGTH) in `parts` tasks, each summing its share in order. */
static void split(const double* x, int parts, sum_job* jobs) {
    for (int t = 0; t < parts; t++)
        jobs[t] = (sum_job){x, (long)LENGTH * t / parts, (long)LENGTH * (t + 1) / parts, 0};
}

static double total(const sum_job* jobs, int parts) {
    double s = 0;
    for (int t = 0; t < parts; t++) s += jobs[t].sum;
    return s;
}

static int rounds = 300;
static int failures = 0;   /* atomic */

static void check(double got, double want, const char* what) {
    if (got != want) {
        fprintf(stderr, "%s: got %.17g, want %.17g\n", what, got, want);
        __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
    }
}

static void* caller(void* arg) {
    const int id = (int)(size_t)arg;
    double* x = malloc(LENGTH * sizeof(double));
    double want = 0;
    if (x == NULL) {
        __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    /* integers, so that any order of summing gives the same total */
    for (long i = 0; i < LENGTH; i++) {
        x[i] = (double)((i * 7 + id) % 13);
        want += x[i];
    }
    for (int r = 0; r < rounds; r++) {
        sum_job jobs[FASTBP_MAX_THREADS];
        const int parts = 1 + (r + id) % 4;

        /* fastbp_run: the caller's share here, the rest on workers (or threads
           of its own while another caller holds them) */
        split(x, parts, jobs);
        fastbp_run(sum_task, jobs, sizeof(jobs[0]), parts);
        check(total(jobs, parts), want, "fastbp_run");

        /* fastbp_start: one task beside the caller's own work */
        split(x, 2, jobs);
        if (fastbp_start(sum_task, &jobs[1])) {
            sum_task(&jobs[0]);
            fastbp_finish();
        } else {
            sum_task(&jobs[0]);
            sum_task(&jobs[1]);
        }
        check(total(jobs, 2), want, "fastbp_start");

        /* a burst's protocol: hand out a task to an awake worker, take it back
           if it has not started when the caller's share is done */
        split(x, 2, jobs);
        const int held = fastbp_pool_acquire_awake();
        if (held) {
            fastbp_pool_hand_out(sum_task, (char*)jobs, sizeof(jobs[0]), 2, held == 2);
            sum_task(&jobs[0]);
            if (fastbp_pool_cancel()) sum_task(&jobs[1]);
            fastbp_pool_release();
        } else {
            sum_task(&jobs[0]);
            sum_task(&jobs[1]);
        }
        check(total(jobs, 2), want, "fastbp_pool_acquire_awake");

        /* scratch memory is the calling thread's own */
        double* s = fastbp_scratch((size_t)(1 + r % 7) * 1024 * sizeof(double));
        if (s == NULL) {
            __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
        } else {
            memset(s, id, 1024 * sizeof(double));
        }
    }
    free(x);
    return NULL;
}

int main(int argc, char** argv) {
    pthread_t threads[CALLERS];
    if (argc > 1) rounds = atoi(argv[1]);
    fastbp_set_num_threads(4);
    for (int c = 0; c < CALLERS; c++)
        if (pthread_create(&threads[c], NULL, caller, (void*)(size_t)c) != 0) return 2;
    for (int c = 0; c < CALLERS; c++) pthread_join(threads[c], NULL);
    if (failures) {
        fprintf(stderr, "%d wrong results\n", failures);
        return 1;
    }
    printf("pool_stress: %d callers x %d rounds, all results right\n", CALLERS, rounds);
    return 0;
}
