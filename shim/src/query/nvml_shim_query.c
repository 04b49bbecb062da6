/*
 * nvml-shim-query: asks an NVML library (the installed shim) what it will tell Ollama.
 *
 *   nvml-shim-query LIBRARY
 *
 * Loads LIBRARY by path, as a patched Ollama does, calls nvmlInit_v2 and the queries Ollama makes,
 * and prints one JSON document on stdout. The shim's own diagnostics (the one line naming the config
 * file and line) stay on stderr, where the caller collects them. "mode" is not re-derived from the
 * config: it is "forward" when initialisation loaded another library exporting nvmlInit_v2 (the
 * real NVML, reported as "real"), else "virtual". Exit status: 0 when the document was printed
 * (whatever NVML answered), 2 on usage, 3 when LIBRARY cannot be loaded.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../nvml_shim_types.h"

typedef nvmlReturn_t (*fn_void)(void);
typedef nvmlReturn_t (*fn_str)(char *, unsigned int);
typedef nvmlReturn_t (*fn_int)(int *);
typedef nvmlReturn_t (*fn_uint)(unsigned int *);
typedef nvmlReturn_t (*fn_handle)(unsigned int, nvmlDevice_t *);
typedef nvmlReturn_t (*fn_dev_str)(nvmlDevice_t, char *, unsigned int);
typedef nvmlReturn_t (*fn_dev_pci)(nvmlDevice_t, nvmlPciInfo_t *);
typedef nvmlReturn_t (*fn_dev_mem)(nvmlDevice_t, nvmlMemory_t *);
typedef nvmlReturn_t (*fn_dev_cc)(nvmlDevice_t, int *, int *);

static void *lib;
static void *shim_init;

static void *sym(const char *name) { return dlsym(lib, name); }

static void json_str(const char *s) {
    putchar('"');
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20 || c == 0x7f) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

/* The loaded object, other than the shim, whose nvmlInit_v2 is not the shim's: the real NVML. */
static char real_path[4096];
static int find_real(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size; (void)data;
    if (info->dlpi_name == NULL || info->dlpi_name[0] == '\0') return 0;
    void *h = dlopen(info->dlpi_name, RTLD_NOW | RTLD_NOLOAD);
    if (h == NULL) return 0;
    void *f = dlsym(h, "nvmlInit_v2");
    dlclose(h);
    if (f != NULL && f != shim_init) {
        snprintf(real_path, sizeof real_path, "%s", info->dlpi_name);
        return 1;
    }
    return 0;
}

static void field_rc(const char *key, nvmlReturn_t rc) { printf(",\"%s\":%d", key, (int)rc); }

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: nvml-shim-query LIBRARY\n");
        return 2;
    }
    lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        const char *e = dlerror();
        printf("{\"library\":");
        json_str(argv[1]);
        printf(",\"loaded\":false,\"load_error\":");
        json_str(e ? e : "unknown dlopen error");
        printf("}\n");
        return 3;
    }
    shim_init = sym("nvmlInit_v2");
    const char *env = secure_getenv("OLLAMA_PATCH_SHIM_CONFIG");
    printf("{\"library\":");
    json_str(argv[1]);
    printf(",\"loaded\":true,\"config_env\":");
    if (env) json_str(env); else printf("null");
    if (shim_init == NULL) {
        printf(",\"init\":-1}\n");
        return 0;
    }
    nvmlReturn_t rc = ((fn_void)shim_init)();
    field_rc("init", rc);
    if (rc != NVML_SUCCESS) {
        printf("}\n");
        return 0;
    }
    dl_iterate_phdr(find_real, NULL);
    printf(",\"mode\":\"%s\"", real_path[0] ? "forward" : "virtual");
    if (real_path[0]) { printf(",\"real\":"); json_str(real_path); }

    char buf[256];
    fn_str fs = (fn_str)sym("nvmlSystemGetDriverVersion");
    if (fs && (memset(buf, 0, sizeof buf), fs(buf, sizeof buf)) == NVML_SUCCESS) { printf(",\"driver_version\":"); json_str(buf); }
    fs = (fn_str)sym("nvmlSystemGetNVMLVersion");
    if (fs && (memset(buf, 0, sizeof buf), fs(buf, sizeof buf)) == NVML_SUCCESS) { printf(",\"nvml_version\":"); json_str(buf); }
    int cuda = 0;
    fn_int fi = (fn_int)sym("nvmlSystemGetCudaDriverVersion_v2");
    if (fi && fi(&cuda) == NVML_SUCCESS) printf(",\"cuda_driver_version\":%d", cuda);

    unsigned int n = 0;
    fn_uint fc = (fn_uint)sym("nvmlDeviceGetCount_v2");
    rc = fc ? fc(&n) : NVML_ERROR_FUNCTION_NOT_FOUND;
    field_rc("count", rc);
    printf(",\"devices\":[");
    fn_handle fh = (fn_handle)sym("nvmlDeviceGetHandleByIndex_v2");
    fn_dev_str fname = (fn_dev_str)sym("nvmlDeviceGetName"), fuuid = (fn_dev_str)sym("nvmlDeviceGetUUID");
    fn_dev_pci fpci = (fn_dev_pci)sym("nvmlDeviceGetPciInfo_v3");
    fn_dev_mem fmem = (fn_dev_mem)sym("nvmlDeviceGetMemoryInfo");
    fn_dev_cc fcc = (fn_dev_cc)sym("nvmlDeviceGetCudaComputeCapability");
    for (unsigned int i = 0; rc == NVML_SUCCESS && fh && i < n; i++) {
        nvmlDevice_t d;
        printf("%s{\"index\":%u", i ? "," : "", i);
        nvmlReturn_t hr = fh(i, &d);
        field_rc("handle", hr);
        if (hr == NVML_SUCCESS) {
            char s[128];
            if (fname && (memset(s, 0, sizeof s), fname(d, s, sizeof s)) == NVML_SUCCESS) { printf(",\"name\":"); json_str(s); }
            if (fuuid && (memset(s, 0, sizeof s), fuuid(d, s, sizeof s)) == NVML_SUCCESS) { printf(",\"uuid\":"); json_str(s); }
            nvmlPciInfo_t p;
            memset(&p, 0, sizeof p);
            if (fpci && fpci(d, &p) == NVML_SUCCESS) {
                p.busId[sizeof p.busId - 1] = '\0';
                printf(",\"pci_bus_id\":");
                json_str(p.busId);
                printf(",\"pci_device_id\":%u", p.pciDeviceId);
            }
            nvmlMemory_t m;
            if (fmem && fmem(d, &m) == NVML_SUCCESS) printf(",\"memory_total\":%llu,\"memory_free\":%llu", m.total, m.free);
            int ma = 0, mi = 0;
            if (fcc && fcc(d, &ma, &mi) == NVML_SUCCESS) printf(",\"compute_capability\":\"%d.%d\"", ma, mi);
        }
        printf("}");
    }
    printf("]");
    fn_void fsd = (fn_void)sym("nvmlShutdown");
    if (fsd) field_rc("shutdown", fsd());
    printf("}\n");
    return 0;
}
