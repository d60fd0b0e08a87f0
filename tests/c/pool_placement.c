/* Where a worker of fastbp's pool (fastbp/src/pool.c) runs its task: never on
   the processor of the caller that handed it out, when the worker may run on
   another. The caller is pinned to one processor (its workers, started before,
   may use every one), sleeps between hand-outs so that each wakes a sleeping
   worker, and each task records the processor it runs on. On a virtual machine
   the kernel often woke the worker on the caller's processor, where the two then
   shared one core for the whole product.

   Usage: pool_placement [rounds]   (exit status 0: no worker task ran on the
   caller's processor; 1: some did; 77: fewer than two processors to use) */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "pool.h"

typedef struct {
    pthread_t thread;
    int cpu;
} where_job;

static void* where(void* arg) {
    where_job* job = (where_job*)arg;
    struct timespec start, now;
    job->thread = pthread_self();
    job->cpu = sched_getcpu();
    /* a share of work, so the two tasks overlap */
    clock_gettime(CLOCK_MONOTONIC, &start);
    do clock_gettime(CLOCK_MONOTONIC, &now);
    while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < 200000);
    return NULL;
}

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? atoi(argv[1]) : 100;
    const struct timespec pause = {0, 20 * 1000000};
    where_job jobs[2];
    cpu_set_t allowed, one;
    int cpu, by_worker = 0, shared = 0;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < 2) {
        printf("fewer than two processors to use\n");
        return 77;
    }
    fastbp_pool_backoff_on = 0;     /* every hand-out goes to the worker */
    fastbp_run(where, jobs, sizeof jobs[0], 2);     /* starts the worker */
    cpu = sched_getcpu();
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) return 2;
    for (int r = 0; r < rounds; r++) {
        nanosleep(&pause, NULL);
        fastbp_run(where, jobs, sizeof jobs[0], 2);
        if (pthread_equal(jobs[1].thread, pthread_self())) continue;   /* taken back */
        by_worker++;
        shared += jobs[1].cpu == cpu;
    }
    printf("%d of %d tasks run by the worker, %d of them on the caller's processor %d\n",
           by_worker, rounds, shared, cpu);
    return by_worker == 0 || shared > 0;
}
