/* fastbp's worker threads, their scratch memory and their count.

   Workers start on first use and are kept for the next calls (starting a thread
   costs 25-40 us here, as much as a whole product of mini-batch training). One
   caller uses them at a time; another caller meanwhile runs its tasks on threads of
   its own. A forked child starts with none. */
#ifndef FASTBP_POOL_H
#define FASTBP_POOL_H
#include <stddef.h>
#include "platform.h"

#define FASTBP_MAX_THREADS 8
typedef void* (*fastbp_task)(void*);

/* How many threads our kernels may use now: the BLAS's limit, capped by fastbp's
   own (fastbp_set_num_threads) and by FASTBP_MAX_THREADS. */
int fastbp_threads(void);
/* Find the BLAS's thread-count function through scipy's cython_blas module. */
void fastbp_find_blas_threads(const char* cython_blas_path);
/* fastbp's own limit, for threadpoolctl (exported for ctypes). */
FASTBP_EXPORT int fastbp_get_num_threads(void);
FASTBP_EXPORT void fastbp_set_num_threads(int n);

/* Run fn on jobs[0], ..., jobs[n - 1] (job_size bytes apart), the first on this
   thread, and return when all are done. */
void fastbp_run(fastbp_task fn, void* jobs, size_t job_size, int n);
/* Start fn(job) on a worker and return at once (1); fastbp_finish waits for it and
   must come before the job's memory is touched again. 0: nothing was started. */
int fastbp_start(fastbp_task fn, void* job);
void fastbp_finish(void);

/* A worker's task not started when the caller is done with its own share is taken
   back and run by the caller; the hand-outs that follow then stay on the caller
   for a while (the machine is busy). 0 turns that back-off off (a test hook, for
   tests that count hand-outs). */
extern int fastbp_pool_backoff_on;

/* For a task too short to wait for a sleeping worker: take the workers if worker 0
   is awake (1) or this is the second such call of a burst (2); 0: nothing held.
   Then hand out 2 tasks, run the caller's share, fastbp_pool_cancel (1: the
   caller runs worker 0's task itself) and fastbp_pool_release. */
int fastbp_pool_acquire_awake(void);
void fastbp_pool_hand_out(fastbp_task fn, char* jobs, size_t job_size, int tasks,
                          int wake);
int fastbp_pool_cancel(void);
void fastbp_pool_release(void);

/* 64-byte-aligned scratch of at least `size` bytes owned by the calling thread,
   kept for its next calls; NULL when out of memory. */
void* fastbp_scratch(size_t size);
#endif
