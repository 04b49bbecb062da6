/*
 * 8 threads (argv[3]) call every exported function ITER (argv[2]) times at once and compare each
 * answer with a reference taken single-threaded first. Each iteration starts with its own
 * nvmlInit_v2 and ends with nvmlShutdown, so the reference count goes through 0 <-> 1 while other
 * threads are mid-call. Prints "OK calls=N" (N = traced calls made by the threads) or failures.
 *   threads_test SHIM ITER THREADS
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nvml_shim_types.h"

#define F(ret, name, args) static ret(*p_##name) args;
F(nvmlReturn_t, nvmlInit, (void)) F(nvmlReturn_t, nvmlInit_v2, (void)) F(nvmlReturn_t, nvmlInitWithFlags, (unsigned))
F(nvmlReturn_t, nvmlShutdown, (void)) F(const char *, nvmlErrorString, (nvmlReturn_t))
F(nvmlReturn_t, nvmlSystemGetDriverVersion, (char *, unsigned)) F(nvmlReturn_t, nvmlSystemGetNVMLVersion, (char *, unsigned))
F(nvmlReturn_t, nvmlSystemGetCudaDriverVersion, (int *)) F(nvmlReturn_t, nvmlSystemGetCudaDriverVersion_v2, (int *))
F(nvmlReturn_t, nvmlDeviceGetCount, (unsigned *)) F(nvmlReturn_t, nvmlDeviceGetCount_v2, (unsigned *))
F(nvmlReturn_t, nvmlDeviceGetHandleByIndex, (unsigned, nvmlDevice_t *)) F(nvmlReturn_t, nvmlDeviceGetHandleByIndex_v2, (unsigned, nvmlDevice_t *))
F(nvmlReturn_t, nvmlDeviceGetHandleByUUID, (const char *, nvmlDevice_t *))
F(nvmlReturn_t, nvmlDeviceGetHandleByPciBusId, (const char *, nvmlDevice_t *)) F(nvmlReturn_t, nvmlDeviceGetHandleByPciBusId_v2, (const char *, nvmlDevice_t *))
F(nvmlReturn_t, nvmlDeviceGetName, (nvmlDevice_t, char *, unsigned)) F(nvmlReturn_t, nvmlDeviceGetUUID, (nvmlDevice_t, char *, unsigned))
F(nvmlReturn_t, nvmlDeviceGetSerial, (nvmlDevice_t, char *, unsigned)) F(nvmlReturn_t, nvmlDeviceGetVbiosVersion, (nvmlDevice_t, char *, unsigned))
F(nvmlReturn_t, nvmlDeviceGetBoardPartNumber, (nvmlDevice_t, char *, unsigned))
F(nvmlReturn_t, nvmlDeviceGetPciInfo, (nvmlDevice_t, void *)) F(nvmlReturn_t, nvmlDeviceGetPciInfo_v2, (nvmlDevice_t, void *))
F(nvmlReturn_t, nvmlDeviceGetPciInfo_v3, (nvmlDevice_t, nvmlPciInfo_t *)) F(nvmlReturn_t, nvmlDeviceGetIndex, (nvmlDevice_t, unsigned *))
F(nvmlReturn_t, nvmlDeviceGetMemoryInfo, (nvmlDevice_t, nvmlMemory_t *)) F(nvmlReturn_t, nvmlDeviceGetMemoryInfo_v2, (nvmlDevice_t, nvmlMemory_v2_t *))
F(nvmlReturn_t, nvmlDeviceGetCudaComputeCapability, (nvmlDevice_t, int *, int *)) F(nvmlReturn_t, nvmlDeviceGetBrand, (nvmlDevice_t, nvmlBrandType_t *))
#undef F

/* Everything one pass observes, as text; compared with the reference pass. */
struct snapshot { char text[8192]; size_t n; unsigned calls; };

static void add(struct snapshot *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void add(struct snapshot *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(s->text + s->n, sizeof s->text - s->n, fmt, ap);
    va_end(ap);
    if (k > 0) s->n += (size_t)k;
    if (s->n >= sizeof s->text) s->n = sizeof s->text - 1;
    s->calls++;
}

static void pass(struct snapshot *s) {
    char buf[128];
    int iv;
    unsigned uv, count = 0;
    nvmlDevice_t d;
    s->n = 0;
    s->calls = 0;
    s->text[0] = '\0';
    add(s, "init=%d\n", p_nvmlInit_v2());
    add(s, "init1=%d\n", p_nvmlInit());
    add(s, "initf=%d\n", p_nvmlInitWithFlags(0));
    add(s, "drv=%d:%s\n", p_nvmlSystemGetDriverVersion(buf, sizeof buf), buf);
    add(s, "nvml=%d:%s\n", p_nvmlSystemGetNVMLVersion(buf, sizeof buf), buf);
    add(s, "cuda=%d:", p_nvmlSystemGetCudaDriverVersion(&iv)); add(s, "%d\n", iv); s->calls--;
    add(s, "cuda2=%d:", p_nvmlSystemGetCudaDriverVersion_v2(&iv)); add(s, "%d\n", iv); s->calls--;
    add(s, "count1=%d:", p_nvmlDeviceGetCount(&uv)); add(s, "%u\n", uv); s->calls--;
    add(s, "count=%d:", p_nvmlDeviceGetCount_v2(&count)); add(s, "%u\n", count); s->calls--;
    add(s, "err=%s\n", p_nvmlErrorString(NVML_ERROR_NOT_FOUND));
    for (unsigned i = 0; i < count && i < 8; i++) {
        nvmlDevice_t h = NULL, h1 = NULL;
        add(s, "h=%d ", p_nvmlDeviceGetHandleByIndex_v2(i, &h));
        add(s, "h1=%d same=%d\n", p_nvmlDeviceGetHandleByIndex(i, &h1), h == h1);
        add(s, "hp=%p\n", (void *)h); s->calls--;
        add(s, "name=%d:%s\n", p_nvmlDeviceGetName(h, buf, sizeof buf), buf);
        char uuid[96] = "";
        add(s, "uuid=%d:%s\n", p_nvmlDeviceGetUUID(h, uuid, sizeof uuid), uuid);
        d = NULL;
        add(s, "byuuid=%d:", p_nvmlDeviceGetHandleByUUID(uuid, &d)); add(s, "%d\n", d == h); s->calls--;
        nvmlPciInfo_t pci;
        memset(&pci, 0, sizeof pci);
        add(s, "pci3=%d:%s:%s:%x:%x\n", p_nvmlDeviceGetPciInfo_v3(h, &pci), pci.busId, pci.busIdLegacy, pci.pciDeviceId, pci.bus);
        d = NULL;
        add(s, "bybus=%d:", p_nvmlDeviceGetHandleByPciBusId_v2(pci.busId, &d)); add(s, "%d\n", d == h); s->calls--;
        d = NULL;
        add(s, "bybus1=%d:", p_nvmlDeviceGetHandleByPciBusId(pci.busIdLegacy, &d)); add(s, "%d\n", d == h); s->calls--;
        unsigned char legacy[52];
        add(s, "pci2=%d:%.16s\n", p_nvmlDeviceGetPciInfo_v2(h, legacy), (char *)legacy);
        add(s, "pci1=%d:%.16s\n", p_nvmlDeviceGetPciInfo(h, legacy), (char *)legacy);
        add(s, "index=%d:", p_nvmlDeviceGetIndex(h, &uv)); add(s, "%u\n", uv); s->calls--;
        nvmlMemory_t m;
        add(s, "mem=%d:", p_nvmlDeviceGetMemoryInfo(h, &m)); add(s, "%llu/%llu/%llu\n", m.total, m.free, m.used); s->calls--;
        nvmlMemory_v2_t m2;
        memset(&m2, 0, sizeof m2);
        m2.version = nvmlMemory_v2;
        add(s, "mem2=%d:", p_nvmlDeviceGetMemoryInfo_v2(h, &m2)); add(s, "%llu/%llu/%llu\n", m2.total, m2.free, m2.used); s->calls--;
        int a = -1, b = -1;
        add(s, "cc=%d:", p_nvmlDeviceGetCudaComputeCapability(h, &a, &b)); add(s, "%d.%d\n", a, b); s->calls--;
        buf[0] = '\0';
        add(s, "serial=%d:%s\n", p_nvmlDeviceGetSerial(h, buf, sizeof buf), buf);
        buf[0] = '\0';
        add(s, "vbios=%d:%s\n", p_nvmlDeviceGetVbiosVersion(h, buf, sizeof buf), buf);
        buf[0] = '\0';
        add(s, "part=%d:%s\n", p_nvmlDeviceGetBoardPartNumber(h, buf, sizeof buf), buf);
        nvmlBrandType_t br;
        add(s, "brand=%d:", p_nvmlDeviceGetBrand(h, &br)); add(s, "%d\n", (int)br); s->calls--;
        add(s, "short=%d\n", p_nvmlDeviceGetName(h, buf, 2));
    }
    add(s, "sd=%d\n", p_nvmlShutdown());
    add(s, "sd=%d\n", p_nvmlShutdown());
    add(s, "sd=%d\n", p_nvmlShutdown());
}

static struct snapshot reference;
static int iterations;
static atomic_int failures;
static atomic_uint total_calls;

static void *worker(void *arg) {
    (void)arg;
    struct snapshot *s = malloc(sizeof *s);
    for (int i = 0; i < iterations; i++) {
        pass(s);
        atomic_fetch_add(&total_calls, s->calls);
        if (strcmp(s->text, reference.text) != 0) {
            if (atomic_fetch_add(&failures, 1) < 3)
                printf("MISMATCH in iteration %d:\n--- got\n%s--- want\n%s", i, s->text, reference.text);
        }
    }
    free(s);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: threads_test SHIM ITER THREADS\n"); return 2; }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) { printf("dlopen: %s\n", dlerror()); return 2; }
#define L(name) if (!(*(void **)&p_##name = dlsym(lib, #name))) { printf("missing %s\n", #name); return 2; }
    L(nvmlInit) L(nvmlInit_v2) L(nvmlInitWithFlags) L(nvmlShutdown) L(nvmlErrorString) L(nvmlSystemGetDriverVersion)
    L(nvmlSystemGetNVMLVersion) L(nvmlSystemGetCudaDriverVersion) L(nvmlSystemGetCudaDriverVersion_v2) L(nvmlDeviceGetCount)
    L(nvmlDeviceGetCount_v2) L(nvmlDeviceGetHandleByIndex) L(nvmlDeviceGetHandleByIndex_v2) L(nvmlDeviceGetHandleByUUID)
    L(nvmlDeviceGetHandleByPciBusId) L(nvmlDeviceGetHandleByPciBusId_v2) L(nvmlDeviceGetName) L(nvmlDeviceGetUUID)
    L(nvmlDeviceGetSerial) L(nvmlDeviceGetVbiosVersion) L(nvmlDeviceGetBoardPartNumber) L(nvmlDeviceGetPciInfo)
    L(nvmlDeviceGetPciInfo_v2) L(nvmlDeviceGetPciInfo_v3) L(nvmlDeviceGetIndex) L(nvmlDeviceGetMemoryInfo)
    L(nvmlDeviceGetMemoryInfo_v2) L(nvmlDeviceGetCudaComputeCapability) L(nvmlDeviceGetBrand)
    iterations = atoi(argv[2]);
    int nthreads = atoi(argv[3]);
    pass(&reference);
    if (strstr(reference.text, "init=0") == NULL) { printf("reference init failed:\n%s", reference.text); return 1; }
    pthread_t t[64];
    for (int i = 0; i < nthreads && i < 64; i++) pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < nthreads && i < 64; i++) pthread_join(t[i], NULL);
    if (atomic_load(&failures)) { printf("FAILED: %d mismatching passes\n", atomic_load(&failures)); return 1; }
    printf("OK calls=%u reference_calls=%u\n%s", atomic_load(&total_calls), reference.calls, reference.text);
    return 0;
}
