// The machine's memory bandwidth, to put decoding speed against: decoding one token reads every
// weight once, so bytes of weights per token ÷ read bandwidth is the fastest a token can be.
// Two kernels on buffers far larger than the caches, each on T threads over disjoint slices:
//   read   s += a[i]              (what a matrix-vector product does to its weights)
//   triad  a[i] = b[i] + q·c[i]   (STREAM's triad; counts 3 arrays of traffic)
// Best of R repetitions, in GB/s (10^9 bytes). Usage: bandwidth [THREADS] [MIB_PER_ARRAY] [REPS]
// Build: cc -O3 -march=native -pthread bandwidth.c -o bandwidth
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct { double *a, *b, *c; size_t lo, hi; int kind; double sum; pthread_barrier_t *bar; } job;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *run(void *p) {
    job *j = p;
    pthread_barrier_wait(j->bar);
    if (j->kind == 0) {
        // Integer sums vectorise without reassociating floating-point adds.
        const unsigned long long *w = (const unsigned long long *)j->a;
        unsigned long long s = 0;
        for (size_t i = j->lo; i < j->hi; i++) s += w[i];
        j->sum = (double)(s & 1);
    } else {
        const double q = 3.0;
        for (size_t i = j->lo; i < j->hi; i++) j->a[i] = j->b[i] + q * j->c[i];
    }
    pthread_barrier_wait(j->bar);
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 1024;
    int reps = argc > 3 ? atoi(argv[3]) : 5;
    if (threads < 1 || threads > 256 || mib < 1 || reps < 1) { fprintf(stderr, "usage: bandwidth [THREADS] [MIB_PER_ARRAY] [REPS]\n"); return 2; }
    size_t n = mib * 1048576 / sizeof(double);
    double *a = aligned_alloc(64, n * sizeof(double)), *b = aligned_alloc(64, n * sizeof(double)), *c = aligned_alloc(64, n * sizeof(double));
    if (!a || !b || !c) { fprintf(stderr, "bandwidth: cannot allocate 3 × %zu MiB\n", mib); return 1; }
    for (size_t i = 0; i < n; i++) { a[i] = 1; b[i] = 2; c[i] = 0.5; }
    const char *names[2] = {"read", "triad"};
    double best[2] = {0, 0}, check = 0;
    for (int kind = 0; kind < 2; kind++) {
        for (int r = 0; r < reps; r++) {
            pthread_barrier_t bar;
            pthread_barrier_init(&bar, NULL, threads + 1);
            pthread_t tid[256];
            job jobs[256];
            for (int t = 0; t < threads; t++) {
                jobs[t] = (job){a, b, c, n * t / threads, n * (t + 1) / threads, kind, 0, &bar};
                pthread_create(&tid[t], NULL, run, &jobs[t]);
            }
            pthread_barrier_wait(&bar);
            double t0 = now();
            pthread_barrier_wait(&bar);
            double dt = now() - t0;
            for (int t = 0; t < threads; t++) { pthread_join(tid[t], NULL); check += jobs[t].sum; }
            pthread_barrier_destroy(&bar);
            double bytes = (kind == 0 ? 1.0 : 3.0) * n * sizeof(double);
            if (bytes / dt / 1e9 > best[kind]) best[kind] = bytes / dt / 1e9;
        }
    }
    printf("{\"threads\": %d, \"mib_per_array\": %zu, \"read_gb_per_s\": %.2f, \"triad_gb_per_s\": %.2f}\n", threads, mib, best[0], best[1]);
    if (check < 0) printf("%f\n", check);   // keeps the read loop from being optimised away
    return 0;
}
