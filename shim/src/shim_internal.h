/* Private declarations of the ollama-patch NVML shim (not installed, not exported). */
#ifndef OLLAMA_PATCH_SHIM_INTERNAL_H
#define OLLAMA_PATCH_SHIM_INTERNAL_H

#include "nvml_shim_types.h"

/* The oldest versions of the dl* functions, so the shim loads on every glibc Ollama runs on: glibc
 * 2.34 added new default versions (GLIBC_2.34) in libc.so.6; before it they lived in libdl.so.2 only,
 * which the Makefile therefore links as NEEDED. gettid (GLIBC_2.30) and fstat (GLIBC_2.33) are
 * avoided altogether (system calls), strtoull by our own number parser. ShimGlibcTest checks it. */
#if defined(__x86_64__)
#define SHIM_DL_VERSION "GLIBC_2.2.5"
#elif defined(__aarch64__)
#define SHIM_DL_VERSION "GLIBC_2.17"
#endif
#if defined(SHIM_DL_VERSION) && !defined(SHIM_NO_SYMVER)
__asm__(".symver dlopen,dlopen@" SHIM_DL_VERSION);
__asm__(".symver dlsym,dlsym@" SHIM_DL_VERSION);
__asm__(".symver dlerror,dlerror@" SHIM_DL_VERSION);
__asm__(".symver dlclose,dlclose@" SHIM_DL_VERSION);
__asm__(".symver dladdr,dladdr@" SHIM_DL_VERSION);
#endif

#define SHIM_MAX_DEVICES 64
#define SHIM_DEFAULT_CONFIG "/etc/ollama-patch/shim.conf"
#define SHIM_CONFIG_ENV "OLLAMA_PATCH_SHIM_CONFIG"
/* Filesystem root under which the real NVML is looked for (tests, chroots); default "/". */
#define SHIM_ROOT_ENV "OLLAMA_PATCH_SHIM_ROOT"
#define SHIM_PATH_MAX 4096
#define SHIM_CONFIG_MAX_BYTES (1024 * 1024)  /* a config is a few hundred bytes; more is not a config */

/* Name of the ELF note that marks a file as an ollama-patch shim (type SHIM_NOTE_TYPE, descriptor "shim"). */
#define SHIM_NOTE_NAME "ollama-patch"
#define SHIM_NOTE_TYPE 1u

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
    unsigned int mode_line;              /* where 'mode' was set (0: default) */
    int no_file;                         /* no config file at the default path: forward to the real NVML */
    char driver_version[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE];
    char nvml_version[NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE];
    int cuda_driver_version;
    unsigned int device_count;
    struct shim_device_info devices[SHIM_MAX_DEVICES];
};

/* The config at path, or, when path is the default one and no file is there (and allow_missing),
 * the built-in "forward to the real NVML" config with c->no_file set. */
SHIM_HIDDEN nvmlReturn_t shim_config_read(const char *path, int allow_missing, struct shim_config *out, char *msg, size_t msglen);

/* Decimal digits, or 0x/0X and hex digits; nothing else (no sign, no blanks, no octal). */
SHIM_HIDDEN int shim_parse_u64(const char *s, unsigned long long *out);

/* Looks for the vendor's libnvidia-ml.so.1 under root ("" = /): the loader's cache, then the usual
 * driver directories; skips this shim's own file and any other ollama-patch shim. Writes the path
 * into out and returns 1, or returns 0 and writes what was searched into looked. */
SHIM_HIDDEN int shim_find_real(const char *root, char *out, size_t outlen, char *looked, size_t lookedlen);

/* Copies s into out with control bytes, bytes >= 0x7f and backslashes escaped (\xNN, \\). */
SHIM_HIDDEN void shim_escape(const char *s, char *out, size_t outlen);

/* fstat through the system call: glibc before 2.33 exports no fstat symbol. */
struct stat;
SHIM_HIDDEN int shim_fstat(int fd, struct stat *st);

/* Parses "[domain:]bus:device.function" (hex, any case); function must be 0. */
SHIM_HIDDEN int shim_parse_bus_id(const char *s, unsigned int *domain, unsigned int *bus, unsigned int *device);

#endif
