/* fastbp's worker pool: the threads that share out our kernels' products and
   run tasks beside the caller (see pool.h), the per-thread scratch allocator, and
   the thread count. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* sched_getcpu, CPU_SET */
#endif
#include "pool.h"
#if FASTBP_HAVE_OWN_KERNELS
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <immintrin.h>
#define FASTBP_CPU_RELAX() _mm_pause()

/* Our kernels' worker threads: started on first use, kept for the next calls
   (starting a thread costs 25-40 us here, as much as a whole product of
   mini-batch training). A worker that had a task spins briefly afterwards, in
   case the next comes soon (in training it comes within microseconds), then
   sleeps; one without a task sleeps at once. One caller uses them at a time;
   another caller meanwhile, or one whose threads cannot start, runs its tasks on
   threads of its own. A forked child starts with none: they do not survive fork.

   On a busy machine a worker may not get a core when its task comes, or lose it
   in the middle of the task. The caller never waits for a task that has not
   started: worker 0's task is taken back and run by the caller when the caller's
   own share is done (the claim word below). A task that has started is waited
   for by spinning FASTBP_WAIT_SPINS pauses, then sleeping until its worker is
   done. Either event (a take-back, or a sleep longer than the caller's own share
   took), for a worker that was awake when its task came, says the workers do not
   get the cores they need: the hand-outs that follow then run on
   the caller alone, FASTBP_BACKOFF of them after a first such event, twice as
   many after each next one (up to FASTBP_BACKOFF_MAX), until a hand-out goes
   well again. And while the machine is crowded (fastbp_pool_crowded: its load
   average, or its run queue right now), every hand-out stays on the caller: a
   worker spinning for its next task would take time from the caller's own share
   of a core. */
#define FASTBP_SPINS 4000
#define FASTBP_WAIT_SPINS 2000
#define FASTBP_BACKOFF 64
#define FASTBP_BACKOFF_MAX 8192
#define FASTBP_CLAIM_OPEN(batch) ((batch) >> 8 << 1)
static struct {
    pthread_mutex_t busy;          /* held by the one caller using the workers */
    pthread_mutex_t lock;          /* guards sleeping, and the wake-ups */
    pthread_cond_t wake;
    pthread_cond_t done;           /* the caller sleeps on it for started tasks */
    int caller_waits;              /* the caller sleeps (or is about to) on done */
    int backoff;                   /* hand-outs left to run on the caller alone */
    int backoff_next;              /* the back-off after the next busy event */
    int workers, sleeping;
    int asleep0;                   /* worker 0 sleeps (or is about to) */
    int64_t handed_ns;             /* when the current tasks were handed out */
    int handed_asleep;             /* ... and whether worker 0 slept then */
    int caller_cpu;                /* ... and the processor the caller ran on */
    /* (generation << 8) | tasks: bumped to hand out the next tasks; worker w
       runs task w + 1 if there is one. One word, so a worker reads both at once */
    uint64_t batch;
    int remaining;                 /* tasks handed out and not yet done */
    fastbp_task fn;
    char* jobs;
    size_t job_size;
    /* FASTBP_CLAIM_OPEN(batch) while worker 0's task of that batch is neither
       started nor taken back, | 1 after */
    uint64_t claim;
    uint64_t first_batch[FASTBP_MAX_THREADS];
} fastbp_pool = {.busy = PTHREAD_MUTEX_INITIALIZER, .lock = PTHREAD_MUTEX_INITIALIZER,
                 .wake = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER};

/* Run the task handed to this worker. One woken from a long sleep on a virtual
   machine was often placed by the kernel on the caller's own processor, with the
   other idle, and the two then shared one core for the whole product (W4 batch at
   2 threads ran at 1 thread's speed); a worker finding itself there moves to the
   processors it may use but that one for the task, and then may use all again. */
static void fastbp_worker_run(char* job) {
    cpu_set_t allowed, others;
    const int cpu = fastbp_pool.caller_cpu;
    if (cpu >= 0 && cpu < CPU_SETSIZE && sched_getcpu() == cpu
            && sched_getaffinity(0, sizeof allowed, &allowed) == 0
            && CPU_COUNT(&allowed) > 1) {
        others = allowed;
        CPU_CLR(cpu, &others);
        if (sched_setaffinity(0, sizeof others, &others) == 0) {
            fastbp_pool.fn(job);
            sched_setaffinity(0, sizeof allowed, &allowed);
            return;
        }
    }
    fastbp_pool.fn(job);
}

static void* fastbp_worker(void* arg) {
    const int id = (int)(intptr_t)arg;
    uint64_t seen = fastbp_pool.first_batch[id], now;
    int spins = 0;                  /* no task yet: nothing to spin for */
    for (;;) {
        while ((now = __atomic_load_n(&fastbp_pool.batch, __ATOMIC_ACQUIRE)) == seen) {
            if (spins-- > 0) {
                FASTBP_CPU_RELAX();
                continue;
            }
            pthread_mutex_lock(&fastbp_pool.lock);
            fastbp_pool.sleeping++;
            /* atomic: fastbp_pool_acquire_awake peeks at it without the lock */
            if (id == 0) __atomic_store_n(&fastbp_pool.asleep0, 1, __ATOMIC_RELAXED);
            while (__atomic_load_n(&fastbp_pool.batch, __ATOMIC_ACQUIRE) == seen)
                pthread_cond_wait(&fastbp_pool.wake, &fastbp_pool.lock);
            if (id == 0) __atomic_store_n(&fastbp_pool.asleep0, 0, __ATOMIC_RELAXED);
            fastbp_pool.sleeping--;
            pthread_mutex_unlock(&fastbp_pool.lock);
        }
        seen = now;
        spins = 0;
        if (id + 1 < (int)(now & 0xff)) {
            spins = FASTBP_SPINS;
            /* Worker 0 claims its task first: the caller may have taken it back
               (fastbp_pool_cancel), and then it is not run here. */
            uint64_t open = FASTBP_CLAIM_OPEN(now);
            if (id == 0 && !__atomic_compare_exchange_n(
                    &fastbp_pool.claim, &open, open | 1, 0, __ATOMIC_ACQ_REL,
                    __ATOMIC_RELAXED))
                continue;
            fastbp_worker_run(fastbp_pool.jobs + (size_t)(id + 1) * fastbp_pool.job_size);
            /* seq_cst, as the caller's store to caller_waits and its load of
               remaining: one of the two sides sees the other's */
            const int left = __atomic_sub_fetch(&fastbp_pool.remaining, 1, __ATOMIC_SEQ_CST);
            if (left == 0 && __atomic_load_n(&fastbp_pool.caller_waits, __ATOMIC_SEQ_CST)) {
                pthread_mutex_lock(&fastbp_pool.lock);
                pthread_cond_signal(&fastbp_pool.done);
                pthread_mutex_unlock(&fastbp_pool.lock);
            }
        }
    }
    return NULL;
}

static void fastbp_pool_after_fork(void) {
    const pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    const pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    fastbp_pool.busy = m;
    fastbp_pool.lock = m;
    fastbp_pool.wake = c;
    fastbp_pool.done = c;
    fastbp_pool.workers = fastbp_pool.sleeping = fastbp_pool.asleep0 = 0;
    fastbp_pool.caller_waits = fastbp_pool.backoff = fastbp_pool.backoff_next = 0;
}
static pthread_once_t fastbp_pool_once = PTHREAD_ONCE_INIT;
static void fastbp_pool_init(void) { pthread_atfork(NULL, NULL, fastbp_pool_after_fork); }

/* With the workers held: start them until n run; whether n do. */
static int fastbp_pool_grow(int n) {
    while (fastbp_pool.workers < n) {
        pthread_t tid;
        const int id = fastbp_pool.workers;
        fastbp_pool.first_batch[id] = fastbp_pool.batch;
        if (pthread_create(&tid, NULL, fastbp_worker, (void*)(intptr_t)id) != 0) break;
        pthread_detach(tid);
        fastbp_pool.workers++;
    }
    return fastbp_pool.workers >= n;
}
/* Take the workers for this caller, with at least n of them started; 0 (and
   nothing held) when another caller has them or no thread can start. */
static int fastbp_pool_acquire(int n) {
    pthread_once(&fastbp_pool_once, fastbp_pool_init);
    if (pthread_mutex_trylock(&fastbp_pool.busy) != 0) return 0;
    if (fastbp_pool_grow(n)) return 1;
    pthread_mutex_unlock(&fastbp_pool.busy);
    return 0;
}
static int64_t fastbp_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* For a task too short to wait for a sleeping worker, which takes 30-50 us to wake
   here (and ~3 us of the waker's time): take the workers if worker 0 is awake (1),
   or if it sleeps but this is the second such call within FASTBP_BURST_NS (2: hand
   out with a wake-up, so that it is awake for the calls that follow); else 0, with
   nothing held. After 1 or 2, hand out one task, and take it back with
   fastbp_pool_cancel if the worker has not started it when the caller's own share
   is done: the caller never waits for a worker to wake. */
#define FASTBP_BURST_NS 50000
int fastbp_pool_acquire_awake(void) {
    static int64_t last_asleep = INT64_MIN / 2;    /* guarded by busy */
    int64_t now;
    int burst;
    pthread_once(&fastbp_pool_once, fastbp_pool_init);
    if (pthread_mutex_trylock(&fastbp_pool.busy) != 0) return 0;
    if (fastbp_pool.workers > 0
            && !__atomic_load_n(&fastbp_pool.asleep0, __ATOMIC_RELAXED))
        return 1;
    now = fastbp_now_ns();
    burst = now - last_asleep < FASTBP_BURST_NS;
    last_asleep = now;
    if (burst && fastbp_pool_grow(1)) return 2;
    pthread_mutex_unlock(&fastbp_pool.busy);
    return 0;
}
/* Hand jobs 1 .. tasks - 1 (job_size bytes past jobs apart) to workers 0 .. tasks - 2,
   waking those asleep if `wake`; else only a worker awake sees them, and its task
   must be taken back (fastbp_pool_cancel) if it has not started. */
void fastbp_pool_hand_out(fastbp_task fn, char* jobs, size_t job_size, int tasks,
                                 int wake) {
    const uint64_t batch = ((fastbp_pool.batch >> 8) + 1) << 8 | (uint64_t)tasks;
    fastbp_pool.fn = fn;
    fastbp_pool.jobs = jobs;
    fastbp_pool.job_size = job_size;
    __atomic_store_n(&fastbp_pool.remaining, tasks - 1, __ATOMIC_RELAXED);
    __atomic_store_n(&fastbp_pool.claim, FASTBP_CLAIM_OPEN(batch), __ATOMIC_RELAXED);
    fastbp_pool.handed_ns = fastbp_now_ns();
    fastbp_pool.handed_asleep = __atomic_load_n(&fastbp_pool.asleep0, __ATOMIC_RELAXED);
    fastbp_pool.caller_cpu = sched_getcpu();
    if (!wake) {
        /* a worker that misses it sleeps on (its task is then taken back) */
        __atomic_store_n(&fastbp_pool.batch, batch, __ATOMIC_RELEASE);
        return;
    }
    pthread_mutex_lock(&fastbp_pool.lock);
    __atomic_store_n(&fastbp_pool.batch, batch, __ATOMIC_RELEASE);
    if (fastbp_pool.sleeping) pthread_cond_broadcast(&fastbp_pool.wake);
    pthread_mutex_unlock(&fastbp_pool.lock);
}
/* Take back worker 0's task if it has not started it: 1 if taken back (the caller
   runs it itself), 0 if the worker has it. */
int fastbp_pool_cancel(void) {
    uint64_t open = FASTBP_CLAIM_OPEN(fastbp_pool.batch);
    if (!__atomic_compare_exchange_n(&fastbp_pool.claim, &open, open | 1, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return 0;
    /* the other workers' tasks, if any, are still to be waited for */
    __atomic_fetch_sub(&fastbp_pool.remaining, 1, __ATOMIC_SEQ_CST);
    return 1;
}
/* With the workers held: the workers did not get their cores (a task taken back,
   or a long wait), so back off; or they did (busy 0), so the back-off restarts. */
static void fastbp_pool_busy(int busy) {
    if (!busy) {
        fastbp_pool.backoff_next = FASTBP_BACKOFF;
        return;
    }
    if (fastbp_pool.backoff_next < FASTBP_BACKOFF) fastbp_pool.backoff_next = FASTBP_BACKOFF;
    fastbp_pool.backoff = fastbp_pool.backoff_next;
    if (fastbp_pool.backoff_next < FASTBP_BACKOFF_MAX) fastbp_pool.backoff_next *= 2;
}
/* Wait for the jobs handed out (the workers still held): spin a little, then sleep
   until the last worker is done (a worker without a core would otherwise keep the
   caller spinning on the core it needs). Whether the workers were late: the caller
   slept, and longer than it had worked since the hand-out, so a worker took more
   than twice the caller's time for a share of the same size. A shorter sleep is an
   uneven split or a slow wake-up, not a worker without a core: counted as one, it
   kept every product of W3 on one thread of an idle 2-core machine. */
static int fastbp_pool_wait(void) {
    int spins = 0, late = 0;
    while (__atomic_load_n(&fastbp_pool.remaining, __ATOMIC_ACQUIRE) != 0) {
        if (++spins < FASTBP_WAIT_SPINS) {
            FASTBP_CPU_RELAX();
            continue;
        }
        const int64_t asleep = fastbp_now_ns();
        pthread_mutex_lock(&fastbp_pool.lock);
        __atomic_store_n(&fastbp_pool.caller_waits, 1, __ATOMIC_SEQ_CST);
        while (__atomic_load_n(&fastbp_pool.remaining, __ATOMIC_SEQ_CST) != 0)
            pthread_cond_wait(&fastbp_pool.done, &fastbp_pool.lock);
        __atomic_store_n(&fastbp_pool.caller_waits, 0, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&fastbp_pool.lock);
        late = fastbp_now_ns() - asleep > asleep - fastbp_pool.handed_ns;
    }
    return late;
}
/* Wait for the jobs handed out, then let the workers go. */
void fastbp_pool_release(void) {
    fastbp_pool_wait();
    pthread_mutex_unlock(&fastbp_pool.busy);
}
/* As fastbp_pool_release, after a hand-out whose worker 0 task was `taken` back.
   Either that or a late worker is a sign of a starved one only if worker 0 was
   awake at the hand-out: one asleep takes 30-50 us to wake here (more in a virtual
   machine), longer than a small product's share, and a wake-up that late had kept
   the 2-thread rows of W4 batch on one thread. A crowded machine is seen by
   fastbp_pool_crowded itself. */
static void fastbp_pool_release_after(int taken) {
    const int late = fastbp_pool_wait();
    fastbp_pool_busy(!fastbp_pool.handed_asleep && (taken || late));
    pthread_mutex_unlock(&fastbp_pool.busy);
}
/* The 1-minute load average and the threads runnable right now (running or
   waiting for a processor), from /proc/loadavg; 0 where it cannot be read. */
static int fastbp_read_load(double* load, long* runnable) {
    char text[128];
    const int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    const ssize_t got = read(fd, text, sizeof text - 1);
    close(fd);
    if (got <= 0) return 0;
    text[got] = 0;
    return sscanf(text, "%lf %*f %*f %ld/", load, runnable) == 2;
}
/* Whether more threads want to run than the machine has processors. Two signs,
   read at most every FASTBP_LOAD_NS: the 1-minute load average above the
   processors online plus one half, as GNU OpenMP's dynamic thread count judges it
   (it counts this process's threads too); or, for a machine that has just become
   busy, which that average shows only a minute later, as many runnable threads of
   others right now as processors: the run queue less the caller and the workers
   awake. With two CPU-bound processes on 2 cores, a W1 fit at 2 threads took 1.2x
   its time at 1 thread until the average caught up (benchmarks/tried.md). */
#define FASTBP_LOAD_NS 100000000
static int fastbp_pool_crowded(void) {
    static int64_t checked = INT64_MIN / 2;        /* guarded by busy */
    static int crowded = 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    const int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    if (now - checked >= FASTBP_LOAD_NS) {
        double load;
        long runnable;
        const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        int ours;
        pthread_mutex_lock(&fastbp_pool.lock);
        ours = 1 + fastbp_pool.workers - fastbp_pool.sleeping;
        pthread_mutex_unlock(&fastbp_pool.lock);
        checked = now;
        crowded = cpus > 0 && fastbp_read_load(&load, &runnable)
                  && (load > cpus + 0.5 || runnable - ours >= cpus);
    }
    return crowded;
}
/* With the workers held: whether this hand-out should stay on the caller, as the
   machine is crowded or the pool backs off (fastbp_pool_busy). Never with
   fastbp_pool_backoff_on = 0 (a test hook). */
int fastbp_pool_backoff_on = 1;
static int fastbp_pool_backing_off(void) {
    if (!fastbp_pool_backoff_on) return 0;
    if (fastbp_pool.backoff > 0) {
        fastbp_pool.backoff--;
        return 1;
    }
    return fastbp_pool_crowded();
}

/* Run fn on jobs[0], ..., jobs[n - 1] (job_size bytes apart), the first on this
   thread, and return when all are done. */
void fastbp_run(fastbp_task fn, void* jobs, size_t job_size, int n) {
    char* job = (char*)jobs;
    if (n > 1 && fastbp_pool_acquire(n - 1)) {
        if (fastbp_pool_backing_off()) {
            pthread_mutex_unlock(&fastbp_pool.busy);
            for (int t = 0; t < n; t++) fn(job + t * job_size);
            return;
        }
        fastbp_pool_hand_out(fn, job, job_size, n, 1);
        fn(job);
        const int taken = fastbp_pool_cancel();
        if (taken) fn(job + job_size);  /* worker 0 had not started: run its task */
        fastbp_pool_release_after(taken);
        return;
    }
    {   /* the workers are busy or could not start: threads for this call alone */
        pthread_t tids[FASTBP_MAX_THREADS];
        int started[FASTBP_MAX_THREADS];
        for (int t = 1; t < n; t++)
            started[t] = pthread_create(&tids[t], NULL, fn, job + t * job_size) == 0;
        fn(job);
        for (int t = 1; t < n; t++) {
            /* a task whose thread could not start is run here */
            if (started[t]) pthread_join(tids[t], NULL);
            else fn(job + t * job_size);
        }
    }
}

/* Start fn(job) on a worker and return at once, for the caller to work on
   meanwhile; fastbp_finish() waits for it, and must come before the job's
   memory is touched again or another task is started. Returns 0, having started
   nothing, when the workers are taken or cannot start. */
int fastbp_start(fastbp_task fn, void* job) {
    if (!fastbp_pool_acquire(1)) return 0;
    if (fastbp_pool_backing_off()) {
        pthread_mutex_unlock(&fastbp_pool.busy);
        return 0;
    }
    /* job_size 0: job "1" is job itself; tasks 2: worker 0 alone has a task */
    fastbp_pool_hand_out(fn, (char*)job, 0, 2, 1);
    return 1;
}
void fastbp_finish(void) {
    const int taken = fastbp_pool_cancel();
    if (taken) fastbp_pool.fn(fastbp_pool.jobs);   /* not started: the caller runs it */
    fastbp_pool_release_after(taken);
}

/* 64-byte-aligned scratch of at least `size` bytes, owned by the calling thread:
   kept for its next calls (a fresh allocation each call would cost page faults,
   as glibc hands the memory back) and freed when the thread exits. NULL when out
   of memory. */
typedef struct { void* p; size_t size; } fastbp_scratch_t;
static pthread_key_t fastbp_scratch_key;
static pthread_once_t fastbp_scratch_once = PTHREAD_ONCE_INIT;
static void fastbp_scratch_free(void* s) {
    free(((fastbp_scratch_t*)s)->p);
    free(s);
}
static void fastbp_scratch_init(void) {
    pthread_key_create(&fastbp_scratch_key, fastbp_scratch_free);
}
void* fastbp_scratch(size_t size) {
    fastbp_scratch_t* s;
    pthread_once(&fastbp_scratch_once, fastbp_scratch_init);
    s = (fastbp_scratch_t*)pthread_getspecific(fastbp_scratch_key);
    if (s == NULL) {
        s = (fastbp_scratch_t*)calloc(1, sizeof(*s));
        if (s == NULL) return NULL;
        if (pthread_setspecific(fastbp_scratch_key, s) != 0) {
            free(s);
            return NULL;
        }
    }
    if (s->size < size) {
        free(s->p);
        s->size = 0;
        s->p = aligned_alloc(64, (size + 63) / 64 * 64);
        if (s->p == NULL) return NULL;
        s->size = size;
    }
    return s->p;
}

/* Our kernels take as many threads as the BLAS that serves scipy's cython_blas
   may use (so OPENBLAS_NUM_THREADS and friends limit them too), and no more than
   fastbp's own limit.
   dlsym on the handle of scipy's module searches the libraries it was linked
   against: the BLAS itself, whichever build of it scipy carries. Without one of
   these functions, one thread. */
typedef int (*fastbp_threads_fn)(void);
static fastbp_threads_fn fastbp_blas_threads_fn = NULL;
void fastbp_find_blas_threads(const char* cython_blas_path) {
    static const char* const names[] = {
        "scipy_openblas_get_num_threads", "openblas_get_num_threads",
        "scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
        "MKL_Get_Max_Threads", NULL};
    /* RTLD_NOLOAD: scipy has loaded it already; the reference is kept, so the
       function found stays valid */
    void* handle = dlopen(cython_blas_path, RTLD_LAZY | RTLD_NOLOAD);
    if (handle == NULL) return;
    for (int i = 0; names[i] != NULL && fastbp_blas_threads_fn == NULL; i++)
        fastbp_blas_threads_fn = (fastbp_threads_fn)dlsym(handle, names[i]);
}
/* fastbp's own limit (threadpoolctl's controller and FASTBP_NUM_THREADS set it):
   the kernels take the smaller of it and the BLAS's limit. 0: no limit of our own. */
static int fastbp_thread_limit = 0;
int fastbp_threads(void) {
    int t = fastbp_blas_threads_fn != NULL ? fastbp_blas_threads_fn() : 1;
    const int own = __atomic_load_n(&fastbp_thread_limit, __ATOMIC_RELAXED);
    if (own > 0 && own < t) t = own;
    if (t > FASTBP_MAX_THREADS) t = FASTBP_MAX_THREADS;
    return t < 1 ? 1 : t;
}
FASTBP_EXPORT int fastbp_get_num_threads(void) {
    const int own = __atomic_load_n(&fastbp_thread_limit, __ATOMIC_RELAXED);
    return own > 0 ? own : FASTBP_MAX_THREADS;
}
FASTBP_EXPORT void fastbp_set_num_threads(int n) {
    __atomic_store_n(&fastbp_thread_limit, n < 1 ? 1 : n, __ATOMIC_RELAXED);
}

#else  /* no pool: every call runs on the calling thread */
int fastbp_pool_backoff_on = 0;
void fastbp_find_blas_threads(const char* cython_blas_path) { (void)cython_blas_path; }
int fastbp_threads(void) { return 1; }
FASTBP_EXPORT int fastbp_get_num_threads(void) { return 1; }
FASTBP_EXPORT void fastbp_set_num_threads(int n) { (void)n; }
int fastbp_start(fastbp_task fn, void* job) { (void)fn; (void)job; return 0; }
void fastbp_finish(void) {}
#endif
