/*
 * A stand-in for the vendor's libnvidia-ml.so.1, used to test the shim's forward mode.
 * Its answers are distinctive (and echo their arguments) so a test can see that forwarded calls
 * arrive unchanged and their results come back unchanged. nvmlDeviceGetBoardPartNumber is
 * deliberately absent. nvmlInit calls nvmlInit_v2 through the PLT, as a real library might, so
 * with the shim in the global scope the inner call lands in the shim again.
 * Built with -O0 so that call is not inlined.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int nvmlReturn_t;
struct fake_device { int index; };
typedef struct fake_device *nvmlDevice_t;
static struct fake_device devs[2] = { { 0 }, { 1 } };
static _Atomic int inits;  /* atomic: the threads test calls this library from many threads */

#define API __attribute__((visibility("default")))
#define NEED_INIT if (inits <= 0) return 1
#define DEV(d) int i_ = (d == &devs[0]) ? 0 : (d == &devs[1]) ? 1 : -1; if (i_ < 0) return 2

API nvmlReturn_t nvmlInit_v2(void) { inits++; return 0; }
API nvmlReturn_t nvmlInit(void) { return nvmlInit_v2(); }
API nvmlReturn_t nvmlInitWithFlags(unsigned int flags) { if (flags == 99) return 999; inits++; return 0; }
/* STANDIN_FAIL_SHUTDOWNS=N: the first N shutdowns fail with NVML_ERROR_UNKNOWN and change nothing,
 * as a real NVML may when the driver is in trouble. */
static _Atomic int failed_shutdowns;
API nvmlReturn_t nvmlShutdown(void) {
    const char *f = getenv("STANDIN_FAIL_SHUTDOWNS");
    if (f != NULL && failed_shutdowns < atoi(f)) { failed_shutdowns++; return 999; }
    if (inits <= 0) return 1;
    inits--;
    return 0;
}
API const char *nvmlErrorString(nvmlReturn_t r) {
    static const char *s[] = { "stand-in: success", "stand-in: uninitialized", "stand-in: invalid argument" };
    return r >= 0 && r < 3 ? s[r] : "stand-in: other";
}
static nvmlReturn_t str(char *buf, unsigned int len, const char *v) {
    if (buf == NULL) return 2;
    if (strlen(v) + 1 > len) return 7;
    strcpy(buf, v);
    return 0;
}
#ifndef STANDIN_DRIVER
#define STANDIN_DRIVER "999.1.2-standin"  /* another build (-DSTANDIN_DRIVER=...) tells which one answered */
#endif
API nvmlReturn_t nvmlSystemGetDriverVersion(char *v, unsigned int len) { NEED_INIT; return str(v, len, STANDIN_DRIVER); }
API nvmlReturn_t nvmlSystemGetNVMLVersion(char *v, unsigned int len) { NEED_INIT; return str(v, len, "13.999.1.2-standin"); }
API nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *v) { NEED_INIT; if (!v) return 2; *v = 13010; return 0; }
API nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *v) { NEED_INIT; if (!v) return 2; *v = 13020; return 0; }
API nvmlReturn_t nvmlDeviceGetCount(unsigned int *c) { NEED_INIT; if (!c) return 2; *c = 1; return 0; }
API nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *c) { NEED_INIT; if (!c) return 2; *c = 2; return 0; }
API nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int i, nvmlDevice_t *d) { NEED_INIT; if (!d || i >= 1) return 2; *d = &devs[i]; return 0; }
API nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d) { NEED_INIT; if (!d || i >= 2) return 2; *d = &devs[i]; return 0; }
API nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *u, nvmlDevice_t *d) {
    NEED_INIT; if (!u || !d) return 2;
    if (!strcmp(u, "GPU-standin-0")) { *d = &devs[0]; return 0; }
    if (!strcmp(u, "GPU-standin-1")) { *d = &devs[1]; return 0; }
    return 6;
}
static nvmlReturn_t bybus(const char *b, nvmlDevice_t *d) {
    NEED_INIT; if (!b || !d) return 2;
    if (!strcmp(b, "00000000:81:00.0")) { *d = &devs[0]; return 0; }
    if (!strcmp(b, "00000000:82:00.0")) { *d = &devs[1]; return 0; }
    return 6;
}
API nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char *b, nvmlDevice_t *d) { return bybus(b, d); }
API nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *b, nvmlDevice_t *d) { return bybus(b, d); }
API nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *n, unsigned int len) {
    NEED_INIT; DEV(d); char v[64]; snprintf(v, sizeof v, "Stand-in GPU %d (asked for %u bytes)", i_, len); return str(n, len, v);
}
API nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *u, unsigned int len) {
    NEED_INIT; DEV(d); char v[64]; snprintf(v, sizeof v, "GPU-standin-%d", i_); return str(u, len, v);
}
API nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t d, char *s, unsigned int len) { NEED_INIT; DEV(d); (void)i_; return str(s, len, "SN-standin"); }
API nvmlReturn_t nvmlDeviceGetVbiosVersion(nvmlDevice_t d, char *s, unsigned int len) { NEED_INIT; DEV(d); (void)i_; return str(s, len, "96.00.standin"); }
static nvmlReturn_t pci(nvmlDevice_t d, unsigned char *p, int v3) {
    NEED_INIT; DEV(d); if (!p) return 2;
    unsigned int u[5] = { 0, 0x81u + (unsigned)i_, 0, 0x20b510deu, 0x151f10deu };
    memset(p, 0, v3 ? 68 : 52);
    snprintf((char *)p, 16, "0000:%02X:00.0", u[1]);
    memcpy(p + 16, u, sizeof u);
    if (v3) snprintf((char *)p + 36, 32, "00000000:%02X:00.0", u[1]);
    return 0;
}
API nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t d, void *p) { return pci(d, p, 0); }
API nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t d, void *p) { return pci(d, p, 0); }
API nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t d, void *p) { return pci(d, p, 1); }
API nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t d, unsigned int *i) { NEED_INIT; DEV(d); if (!i) return 2; *i = (unsigned)i_; return 0; }
API nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, unsigned long long *m) {
    NEED_INIT; DEV(d); if (!m) return 2; m[0] = 1000u + (unsigned)i_; m[1] = 600; m[2] = 400u + (unsigned)i_; return 0;
}
struct mem2 { unsigned int version; unsigned long long total, reserved, free, used; };
API nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t d, struct mem2 *m) {
    NEED_INIT; DEV(d); if (!m) return 2;
    m->reserved = m->version; /* echo the version the caller sent */
    m->total = 2000u + (unsigned)i_; m->free = 1500; m->used = 500; return 0;
}
API nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t d, int *a, int *b) { NEED_INIT; DEV(d); if (!a || !b) return 2; *a = 8; *b = 6 + i_; return 0; }
API nvmlReturn_t nvmlDeviceGetBrand(nvmlDevice_t d, int *b) { NEED_INIT; DEV(d); if (!b) return 2; *b = 5 + i_; return 0; }
