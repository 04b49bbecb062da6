/*
 * Checks the shim's struct declarations against NVML's published layout (offsets and sizes taken
 * from the bindgen output of nvml.h in librust-nvml-wrapper-sys-dev 0.7.0), then fills each struct
 * through the shim loaded with dlopen and compares every byte with the bytes NVML would write for
 * the device in layout.conf (see StructLayoutTest).
 *   layout_test SHIM
 */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "nvml_shim_types.h"

static int failures, checks;
#define CHECK(cond) do { checks++; if (!(cond)) { failures++; printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } } while (0)

static void compare(const char *what, const unsigned char *got, const unsigned char *want, size_t n) {
    checks++;
    if (memcmp(got, want, n) == 0) return;
    failures++;
    printf("FAIL %s bytes differ:\n", what);
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i]) printf("  offset %2zu: got 0x%02x want 0x%02x\n", i, got[i], want[i]);
}

int main(int argc, char **argv) {
    /* Declarations against the facts. */
    CHECK(sizeof(nvmlReturn_t) == 4);
    CHECK(NVML_ERROR_UNINITIALIZED == 1 && NVML_ERROR_INVALID_ARGUMENT == 2 && NVML_ERROR_NOT_FOUND == 6);
    CHECK(NVML_ERROR_INSUFFICIENT_SIZE == 7 && NVML_ERROR_LIBRARY_NOT_FOUND == 12 && NVML_ERROR_FUNCTION_NOT_FOUND == 13);
    CHECK(NVML_ERROR_ARGUMENT_VERSION_MISMATCH == 25 && NVML_ERROR_UNKNOWN == 999);
    CHECK(NVML_DEVICE_NAME_BUFFER_SIZE == 64 && NVML_DEVICE_NAME_V2_BUFFER_SIZE == 96);
    CHECK(NVML_DEVICE_UUID_BUFFER_SIZE == 80 && NVML_DEVICE_UUID_V2_BUFFER_SIZE == 96);
    CHECK(NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE == 80 && NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE == 80);
    CHECK(NVML_DEVICE_SERIAL_BUFFER_SIZE == 30 && NVML_DEVICE_VBIOS_VERSION_BUFFER_SIZE == 32);
    CHECK(NVML_DEVICE_PART_NUMBER_BUFFER_SIZE == 80);
    CHECK(NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE == 32 && NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE == 16);
    CHECK(sizeof(nvmlPciInfo_t) == 68);
    CHECK(offsetof(nvmlPciInfo_t, busIdLegacy) == 0);
    CHECK(offsetof(nvmlPciInfo_t, domain) == 16);
    CHECK(offsetof(nvmlPciInfo_t, bus) == 20);
    CHECK(offsetof(nvmlPciInfo_t, device) == 24);
    CHECK(offsetof(nvmlPciInfo_t, pciDeviceId) == 28);
    CHECK(offsetof(nvmlPciInfo_t, pciSubSystemId) == 32);
    CHECK(offsetof(nvmlPciInfo_t, busId) == 36);
    CHECK(sizeof(nvmlShimPciInfoLegacy_t) == 52);
    CHECK(offsetof(nvmlShimPciInfoLegacy_t, domain) == 16 && offsetof(nvmlShimPciInfoLegacy_t, reserved3) == 48);
    CHECK(sizeof(nvmlMemory_t) == 24);
    CHECK(offsetof(nvmlMemory_t, total) == 0 && offsetof(nvmlMemory_t, free) == 8 && offsetof(nvmlMemory_t, used) == 16);
    CHECK(sizeof(nvmlMemory_v2_t) == 40);
    CHECK(offsetof(nvmlMemory_v2_t, version) == 0 && offsetof(nvmlMemory_v2_t, total) == 8);
    CHECK(offsetof(nvmlMemory_v2_t, reserved) == 16 && offsetof(nvmlMemory_v2_t, free) == 24);
    CHECK(offsetof(nvmlMemory_v2_t, used) == 32);
    CHECK(nvmlMemory_v2 == 0x02000028u);
    CHECK(NVML_BRAND_TESLA == 2 && NVML_BRAND_NVIDIA == 14 && NVML_BRAND_TITAN_RTX == 16);

    if (argc < 2) { printf("usage: layout_test SHIM\n"); return 2; }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) { printf("dlopen: %s\n", dlerror()); return 2; }
    nvmlReturn_t (*init)(void) = (nvmlReturn_t (*)(void))dlsym(lib, "nvmlInit_v2");
    nvmlReturn_t (*byidx)(unsigned, nvmlDevice_t *) = (nvmlReturn_t (*)(unsigned, nvmlDevice_t *))dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
    nvmlReturn_t (*pci3)(nvmlDevice_t, nvmlPciInfo_t *) = (nvmlReturn_t (*)(nvmlDevice_t, nvmlPciInfo_t *))dlsym(lib, "nvmlDeviceGetPciInfo_v3");
    nvmlReturn_t (*pci2)(nvmlDevice_t, void *) = (nvmlReturn_t (*)(nvmlDevice_t, void *))dlsym(lib, "nvmlDeviceGetPciInfo_v2");
    nvmlReturn_t (*mem)(nvmlDevice_t, nvmlMemory_t *) = (nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_t *))dlsym(lib, "nvmlDeviceGetMemoryInfo");
    nvmlReturn_t (*mem2)(nvmlDevice_t, nvmlMemory_v2_t *) = (nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_v2_t *))dlsym(lib, "nvmlDeviceGetMemoryInfo_v2");
    if (!init || !byidx || !pci3 || !pci2 || !mem || !mem2) { printf("missing symbol\n"); return 2; }
    CHECK(init() == NVML_SUCCESS);
    nvmlDevice_t dev = NULL;
    CHECK(byidx(0, &dev) == NVML_SUCCESS);

    /* layout.conf: pci_bus_id = 0000ABCD:8a:1f.0, pci_device_id = 0x233110de,
     * pci_subsystem_id = 0x16c110de, memory_total = 0x0000001400000000 (80 GiB),
     * memory_used = 0x0000000012345678 */
    static const unsigned char want_pci3[68] = {
        '0','0','0','0',':','8','A',':','1','F','.','0', 0, 0, 0, 0,   /* overwritten below with the legacy form */
        0xcd,0xab,0x00,0x00, 0x8a,0x00,0x00,0x00, 0x1f,0x00,0x00,0x00, /* domain, bus, device */
        0xde,0x10,0x31,0x23, 0xde,0x10,0xc1,0x16,                       /* pciDeviceId, pciSubSystemId */
        '0','0','0','0','A','B','C','D',':','8','A',':','1','F','.','0', 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    };
    unsigned char want_legacy_pci3[16] = { 'A','B','C','D',':','8','A',':','1','F','.','0',0,0,0,0 };
    unsigned char expect3[68];
    memcpy(expect3, want_pci3, sizeof expect3);
    memcpy(expect3, want_legacy_pci3, 16);  /* legacy form: 4 hex digits of the domain */
    nvmlPciInfo_t p;
    memset(&p, 0xee, sizeof p);
    CHECK(pci3(dev, &p) == NVML_SUCCESS);
    compare("nvmlPciInfo_t (v3)", (unsigned char *)&p, expect3, sizeof p);

    unsigned char legacy[60];
    memset(legacy, 0xee, sizeof legacy);
    CHECK(pci2(dev, legacy) == NVML_SUCCESS);
    unsigned char expect_legacy[60];
    memset(expect_legacy, 0xee, sizeof expect_legacy);
    memcpy(expect_legacy, want_legacy_pci3, 16);
    memcpy(expect_legacy + 16, want_pci3 + 16, 20);
    memset(expect_legacy + 36, 0, 16);                 /* reserved0..3 */
    compare("legacy nvmlPciInfo_t (_v2), 52 bytes + 8 untouched", legacy, expect_legacy, sizeof legacy);

    static const unsigned char want_mem[24] = {
        0x00,0x00,0x00,0x00,0x14,0x00,0x00,0x00,   /* total 0x1400000000 */
        0x88,0xa9,0xcb,0xed,0x13,0x00,0x00,0x00,   /* free  0x1400000000 - 0x12345678 = 0x13EDCBA988 */
        0x78,0x56,0x34,0x12,0x00,0x00,0x00,0x00,   /* used  */
    };
    nvmlMemory_t m;
    memset(&m, 0xee, sizeof m);
    CHECK(mem(dev, &m) == NVML_SUCCESS);
    compare("nvmlMemory_t", (unsigned char *)&m, want_mem, sizeof m);

    static const unsigned char want_mem2[40] = {
        0x28,0x00,0x00,0x02, 0x00,0x00,0x00,0x00,  /* version 0x02000028, padding */
        0x00,0x00,0x00,0x00,0x14,0x00,0x00,0x00,   /* total */
        0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x00,   /* reserved */
        0x88,0xa9,0xcb,0xed,0x13,0x00,0x00,0x00,   /* free */
        0x78,0x56,0x34,0x12,0x00,0x00,0x00,0x00,   /* used */
    };
    nvmlMemory_v2_t m2;
    memset(&m2, 0xee, sizeof m2);
    m2.version = nvmlMemory_v2;
    CHECK(mem2(dev, &m2) == NVML_SUCCESS);
    compare("nvmlMemory_v2_t", (unsigned char *)&m2, want_mem2, sizeof m2);

    printf("%s: %d checks, %d failures\n", failures ? "FAILED" : "OK", checks, failures);
    return failures ? 1 : 0;
}
