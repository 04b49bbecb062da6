/*
 * retry_test SHIM THREADS CALLS: THREADS threads each call nvmlInit_v2 CALLS times, as a caller that
 * retries a failing init would; prints "failures=N" (the calls that did not return NVML_SUCCESS).
 * The test checks stderr carries the shim's failure line once, not once per call.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static int (*init_v2)(void);
static int calls;
static atomic_int failures;

static void *worker(void *arg) {
    (void)arg;
    for (int i = 0; i < calls; i++)
        if (init_v2() != 0) atomic_fetch_add(&failures, 1);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: retry_test SHIM THREADS CALLS\n"); return 2; }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 2; }
    init_v2 = (int (*)(void))dlsym(lib, "nvmlInit_v2");
    int threads = atoi(argv[2]);
    calls = atoi(argv[3]);
    pthread_t t[64];
    if (threads < 1 || threads > 64 || init_v2 == NULL) return 2;
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    printf("failures=%d\n", atomic_load(&failures));
    return 0;
}
