/* Private declarations of the ollama-patch NVML shim (not installed, not exported). */
#ifndef OLLAMA_PATCH_SHIM_INTERNAL_H
#define OLLAMA_PATCH_SHIM_INTERNAL_H

#include "nvml_shim_types.h"

#define SHIM_MAX_DEVICES 64
#define SHIM_DEFAULT_CONFIG "/etc/ollama-patch/shim.conf"
#define SHIM_CONFIG_ENV "OLLAMA_PATCH_SHIM_CONFIG"
#define SHIM_PATH_MAX 4096

#define SHIM_HIDDEN __attribute__((visibility("hidden")))

enum shim_mode { SHIM_MODE_VIRTUAL = 0, SHIM_MODE_FORWARD = 1 };

struct shim_device_info {
    char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
    char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
    unsigned int domain, bus, device;
    unsigned int pci_device_id, pci_subsystem_id;
    unsigned long long memory_total, memory_used;
    int cc_major, cc_minor;
    char serial[NVML_DEVICE_SERIAL_BUFFER_SIZE];
    char vbios_version[NVML_DEVICE_VBIOS_VERSION_BUFFER_SIZE];
    char board_part_number[NVML_DEVICE_PART_NUMBER_BUFFER_SIZE];
    int brand;
};

struct shim_config {
    enum shim_mode mode;
    char path[SHIM_PATH_MAX];   /* the config file itself */
    char real[SHIM_PATH_MAX];   /* forward mode: the real NVML */
    char trace[SHIM_PATH_MAX];  /* "" = no trace */
    unsigned int real_line, trace_line;  /* where 'real' / 'trace' were set */
    char driver_version[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE];
    char nvml_version[NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE];
    int cuda_driver_version;
    unsigned int device_count;
    struct shim_device_info devices[SHIM_MAX_DEVICES];
};

/* Parses the file at path into *out. On failure returns an NVML error code and writes one
 * message line (without trailing newline, already naming file and line) into msg. */
SHIM_HIDDEN nvmlReturn_t shim_config_load(const char *path, struct shim_config *out, char *msg, size_t msglen);

/* Parses "[domain:]bus:device.function" (hex, any case); function must be 0. */
SHIM_HIDDEN int shim_parse_bus_id(const char *s, unsigned int *domain, unsigned int *bus, unsigned int *device);

#endif
