/*
 * ollama-patch NVML shim: a replacement libnvidia-ml.so.1.
 *
 * virtual mode: answers from the devices in the config file.
 * forward mode: passes every call to the real NVML named by 'real' (dlopen'ed RTLD_NOW|RTLD_LOCAL,
 *               each symbol resolved on first use; a missing one gives NVML_ERROR_FUNCTION_NOT_FOUND).
 * trace:        one line per call appended to a file, one write() per line (O_APPEND).
 *
 * Locking: g_lock guards the reference count, the config and the virtual devices. Virtual answers
 * are computed with g_lock held; forwarded calls run without it (except nvmlInit* and nvmlShutdown,
 * which NVML itself serializes). The real library is never dlclose'd, so a forwarded call racing
 * with nvmlShutdown never runs unmapped code.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shim_internal.h"
#include "nvml_functions.h"  /* generated from nvml-functions.txt: SHIM_SYMBOLS */

#define EXPORT __attribute__((visibility("default")))

/* Marks this file as an ollama-patch shim (ELF note, gABI layout), so that the lookup of the real
 * NVML never picks a copy of the shim; ShimCheck and the tests read it with the project's ELF reader. */
static const struct {
    unsigned int namesz, descsz, type;
    char name[(sizeof SHIM_NOTE_NAME + 3) & ~3u];
    char desc[4];
} shim_note __attribute__((section(".note.ollama-patch"), used, aligned(4))) = {
    sizeof SHIM_NOTE_NAME, 4, SHIM_NOTE_TYPE, SHIM_NOTE_NAME, {'s', 'h', 'i', 'm'},
};

/* ------------------------------------------------------------------------------------------ */
/* Symbols that forward mode resolves in the real library.                                    */

enum sym_id {
#define X(n) S_##n,
    SHIM_SYMBOLS(X)
#undef X
    S_COUNT
};

static const char *const sym_names[S_COUNT] = {
#define X(n) #n,
    SHIM_SYMBOLS(X)
#undef X
};

struct real_lib {
    void *handle;
    char path[SHIM_PATH_MAX];
    _Atomic(void *) sym[S_COUNT];  /* NULL = not looked up yet, &sym_missing = absent */
};
static char sym_missing;
static _Atomic(struct real_lib *) g_real;  /* loaded libraries are kept for the process lifetime */

static void *resolve(enum sym_id id) {
    struct real_lib *r = atomic_load_explicit(&g_real, memory_order_acquire);
    if (r == NULL) return NULL;
    void *p = atomic_load_explicit(&r->sym[id], memory_order_acquire);
    if (p == &sym_missing) return NULL;
    if (p != NULL) return p;
    p = dlsym(r->handle, sym_names[id]);
    atomic_store_explicit(&r->sym[id], p ? p : (void *)&sym_missing, memory_order_release);
    return p;
}

/* Depth of forwarded calls on this thread: a real NVML that calls its own exported functions
 * through the global scope lands here again; such inner calls go straight to the real library. */
static _Thread_local int t_depth;

/* ------------------------------------------------------------------------------------------ */
/* State.                                                                                     */

struct nvmlDevice_st { unsigned long long opaque; };
static struct nvmlDevice_st g_handles[SHIM_MAX_DEVICES];  /* stable handles, one per index */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int g_refcount;           /* guarded by g_lock */
static struct shim_config *g_cfg;         /* guarded by g_lock; non-NULL while g_refcount > 0 */

static pthread_mutex_t g_trace_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int g_trace_fd = -1;        /* replaced under g_trace_lock */

/* ------------------------------------------------------------------------------------------ */
/* Names and messages.                                                                        */

static const char *code_name(nvmlReturn_t rc) {
    switch (rc) {
    case NVML_SUCCESS: return "NVML_SUCCESS";
    case NVML_ERROR_UNINITIALIZED: return "NVML_ERROR_UNINITIALIZED";
    case NVML_ERROR_INVALID_ARGUMENT: return "NVML_ERROR_INVALID_ARGUMENT";
    case NVML_ERROR_NOT_SUPPORTED: return "NVML_ERROR_NOT_SUPPORTED";
    case NVML_ERROR_NO_PERMISSION: return "NVML_ERROR_NO_PERMISSION";
    case NVML_ERROR_ALREADY_INITIALIZED: return "NVML_ERROR_ALREADY_INITIALIZED";
    case NVML_ERROR_NOT_FOUND: return "NVML_ERROR_NOT_FOUND";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "NVML_ERROR_INSUFFICIENT_SIZE";
    case NVML_ERROR_INSUFFICIENT_POWER: return "NVML_ERROR_INSUFFICIENT_POWER";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "NVML_ERROR_DRIVER_NOT_LOADED";
    case NVML_ERROR_TIMEOUT: return "NVML_ERROR_TIMEOUT";
    case NVML_ERROR_IRQ_ISSUE: return "NVML_ERROR_IRQ_ISSUE";
    case NVML_ERROR_LIBRARY_NOT_FOUND: return "NVML_ERROR_LIBRARY_NOT_FOUND";
    case NVML_ERROR_FUNCTION_NOT_FOUND: return "NVML_ERROR_FUNCTION_NOT_FOUND";
    case NVML_ERROR_CORRUPTED_INFOROM: return "NVML_ERROR_CORRUPTED_INFOROM";
    case NVML_ERROR_GPU_IS_LOST: return "NVML_ERROR_GPU_IS_LOST";
    case NVML_ERROR_RESET_REQUIRED: return "NVML_ERROR_RESET_REQUIRED";
    case NVML_ERROR_OPERATING_SYSTEM: return "NVML_ERROR_OPERATING_SYSTEM";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "NVML_ERROR_LIB_RM_VERSION_MISMATCH";
    case NVML_ERROR_IN_USE: return "NVML_ERROR_IN_USE";
    case NVML_ERROR_MEMORY: return "NVML_ERROR_MEMORY";
    case NVML_ERROR_NO_DATA: return "NVML_ERROR_NO_DATA";
    case NVML_ERROR_VGPU_ECC_NOT_SUPPORTED: return "NVML_ERROR_VGPU_ECC_NOT_SUPPORTED";
    case NVML_ERROR_INSUFFICIENT_RESOURCES: return "NVML_ERROR_INSUFFICIENT_RESOURCES";
    case NVML_ERROR_FREQ_NOT_SUPPORTED: return "NVML_ERROR_FREQ_NOT_SUPPORTED";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "NVML_ERROR_ARGUMENT_VERSION_MISMATCH";
    case NVML_ERROR_UNKNOWN: return "NVML_ERROR_UNKNOWN";
    }
    return "NVML_ERROR_?";
}

static const char *code_text(nvmlReturn_t rc) {
    switch (rc) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_ALREADY_INITIALIZED: return "Already Initialized";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_INSUFFICIENT_POWER: return "Insufficient External Power";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT: return "Timeout";
    case NVML_ERROR_IRQ_ISSUE: return "Interrupt Request Issue";
    case NVML_ERROR_LIBRARY_NOT_FOUND: return "NVML Shared Library Not Found";
    case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
    case NVML_ERROR_CORRUPTED_INFOROM: return "Corrupted infoROM";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_RESET_REQUIRED: return "GPU requires restart";
    case NVML_ERROR_OPERATING_SYSTEM: return "The operating system has blocked the request";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "RM has detected an NVML/RM version mismatch";
    case NVML_ERROR_IN_USE: return "In use by another client";
    case NVML_ERROR_MEMORY: return "Insufficient Memory";
    case NVML_ERROR_NO_DATA: return "No data";
    case NVML_ERROR_VGPU_ECC_NOT_SUPPORTED: return "vGPU operation not available while ECC is enabled";
    case NVML_ERROR_INSUFFICIENT_RESOURCES: return "Insufficient resources";
    case NVML_ERROR_FREQ_NOT_SUPPORTED: return "Frequency not supported";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Argument version mismatch";
    case NVML_ERROR_UNKNOWN: return "Unknown Error";
    }
    return "Unknown Error";
}

/* One line on stderr, one write(); control characters (from a config line, a path) escaped. */
static void report(const char *msg) {
    char esc[16384], line[16448];
    shim_escape(msg, esc, sizeof esc);
    int n = snprintf(line, sizeof line, "ollama-patch shim: %s\n", esc);
    if (n < 0) return;
    if ((size_t)n >= sizeof line) { n = sizeof line - 1; line[n - 1] = '\n'; }
    ssize_t w = write(2, line, (size_t)n);
    (void)w;
}

/* ------------------------------------------------------------------------------------------ */
/* Trace.                                                                                     */

struct tb { char buf[2048]; size_t n; };

__attribute__((format(printf, 2, 3)))
static void tb_printf(struct tb *t, const char *fmt, ...) {
    if (t->n >= sizeof t->buf) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(t->buf + t->n, sizeof t->buf - t->n, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    t->n += (size_t)k;
    if (t->n >= sizeof t->buf) t->n = sizeof t->buf - 1;
}

/* A C string, quoted, with quotes, backslashes and non-printable bytes escaped; at most max bytes. */
static void tb_str(struct tb *t, const char *s, size_t max) {
    if (s == NULL) { tb_printf(t, "NULL"); return; }
    tb_printf(t, "\"");
    for (size_t i = 0; i < max && s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') tb_printf(t, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f) tb_printf(t, "\\x%02x", c);
        else tb_printf(t, "%c", c);
    }
    tb_printf(t, "\"");
}

static int tracing(void) { return atomic_load_explicit(&g_trace_fd, memory_order_relaxed) >= 0; }

static void tb_begin(struct tb *t, const char *fn) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    t->n = 0;
    tb_printf(t, "%lld.%06ld pid=%d tid=%d %s(", (long long)ts.tv_sec, ts.tv_nsec / 1000L, (int)getpid(), (int)syscall(SYS_gettid), fn);
}

static void tb_result(struct tb *t, nvmlReturn_t rc) {
    tb_printf(t, ") = %d %s", (int)rc, code_name(rc));
}

static void tb_emit(struct tb *t) {
    if (t->n > sizeof t->buf - 2) t->n = sizeof t->buf - 2;
    t->buf[t->n++] = '\n';
    pthread_mutex_lock(&g_trace_lock);
    int fd = atomic_load(&g_trace_fd);
    if (fd >= 0) {
        ssize_t w = write(fd, t->buf, t->n);  /* O_APPEND: the whole line lands at the end at once */
        (void)w;
    }
    pthread_mutex_unlock(&g_trace_lock);
}

/* ------------------------------------------------------------------------------------------ */
/* Call entry.                                                                                */

/* Returns NVML_SUCCESS with *fwd == NULL and g_lock HELD for virtual mode, NVML_SUCCESS with
 * *fwd set (lock released) for forward mode, or an error (lock released). */
static nvmlReturn_t enter(enum sym_id id, void **fwd) {
    *fwd = NULL;
    pthread_mutex_lock(&g_lock);
    if (g_refcount == 0) {
        pthread_mutex_unlock(&g_lock);
        return NVML_ERROR_UNINITIALIZED;
    }
    if (g_cfg->mode == SHIM_MODE_VIRTUAL) return NVML_SUCCESS;
    pthread_mutex_unlock(&g_lock);
    *fwd = resolve(id);
    return *fwd ? NVML_SUCCESS : NVML_ERROR_FUNCTION_NOT_FOUND;
}

#define FORWARD(fp, type, args) (t_depth++, rc = ((type)(fp))args, t_depth--, rc)

/* An inner call made by the real library itself (forward mode): straight through. */
#define PASS_INNER(id, type, args)                                                       \
    do {                                                                                 \
        if (t_depth > 0) {                                                               \
            void *fp_ = resolve(id);                                                     \
            return fp_ ? ((type)fp_)args : NVML_ERROR_FUNCTION_NOT_FOUND;                \
        }                                                                                \
    } while (0)

/* Virtual device lookup; g_lock held. */
static struct shim_device_info *vdev(nvmlDevice_t h) {
    uintptr_t p = (uintptr_t)h, base = (uintptr_t)g_handles;
    if (h == NULL || p < base || p >= base + sizeof g_handles) return NULL;
    if ((p - base) % sizeof g_handles[0] != 0) return NULL;
    size_t idx = (p - base) / sizeof g_handles[0];
    if (idx >= g_cfg->device_count) return NULL;
    return &g_cfg->devices[idx];
}

static nvmlReturn_t out_str(char *buf, unsigned int len, const char *v) {
    size_t n = strlen(v);
    if ((size_t)len < n + 1) return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(buf, v, n + 1);
    return NVML_SUCCESS;
}

static void format_bus_ids(const struct shim_device_info *d, char legacy[16], char full[32]) {
    snprintf(legacy, 16, NVML_DEVICE_PCI_BUS_ID_LEGACY_FMT, d->domain & 0xFFFFu, d->bus & 0xFFu, d->device & 0xFFu);
    snprintf(full, 32, NVML_DEVICE_PCI_BUS_ID_FMT, d->domain, d->bus & 0xFFu, d->device & 0xFFu);
}

/* free = total - used, never below zero (the parser refuses used > total; this holds regardless). */
static unsigned long long free_bytes(const struct shim_device_info *d) {
    return d->memory_used > d->memory_total ? 0 : d->memory_total - d->memory_used;
}

/* ------------------------------------------------------------------------------------------ */
/* Init / shutdown.                                                                           */

typedef nvmlReturn_t (*fn_void_t)(void);
typedef nvmlReturn_t (*fn_flags_t)(unsigned int);

static nvmlReturn_t call_real_init(enum sym_id which, unsigned int flags, void *fp) {
    nvmlReturn_t rc;
    if (which == S_nvmlInitWithFlags) return FORWARD(fp, fn_flags_t, (flags));
    return FORWARD(fp, fn_void_t, ());
}

EXPORT nvmlReturn_t nvmlInit_v2(void);

/* Where the real library's name came from, for messages: "FILE:LINE: " or "no config file FILE; ". */
static void real_origin(const struct shim_config *c, char *buf, size_t n) {
    if (c->no_file) snprintf(buf, n, "no config file %s; ", c->path);
    else snprintf(buf, n, "%s:%u: ", c->path, c->real_line ? c->real_line : c->mode_line);
}

static struct real_lib *load_real(const struct shim_config *c, nvmlReturn_t *rc, char *msg, size_t msglen) {
    struct real_lib *r = atomic_load(&g_real);
    if (r != NULL && strcmp(r->path, c->real) == 0) return r;
    char origin[SHIM_PATH_MAX + 64];
    real_origin(c, origin, sizeof origin);
    dlerror();
    void *h = dlopen(c->real, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        const char *e = dlerror();
        snprintf(msg, msglen, "%scannot load the real NVML '%s': %s", origin, c->real, e ? e : "unknown error");
        *rc = NVML_ERROR_LIBRARY_NOT_FOUND;
        return NULL;
    }
    if (dlsym(h, "nvmlInit_v2") == (void *)&nvmlInit_v2) {
        snprintf(msg, msglen, "%sthe real NVML '%s' is this shim itself; name the vendor library by its full path", origin, c->real);
        *rc = NVML_ERROR_LIBRARY_NOT_FOUND;
        dlclose(h);
        return NULL;
    }
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        snprintf(msg, msglen, "%sout of memory", origin);
        *rc = NVML_ERROR_MEMORY;
        return NULL;
    }
    r->handle = h;
    memcpy(r->path, c->real, sizeof r->path);
    atomic_store_explicit(&g_real, r, memory_order_release);
    return r;
}

/* A failing init prints its line once: a caller retrying from many threads sees it once, a
 * different failure is printed again, and a success forgets the last one. Guarded by g_lock. */
static unsigned long long g_reported_hash;
static int g_reported;

static void report_once(const char *msg) {
    unsigned long long h = 1469598103934665603ull;  /* FNV-1a, 64 bit */
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++) h = (h ^ *p) * 1099511628211ull;
    if (g_reported && g_reported_hash == h) return;
    g_reported = 1;
    g_reported_hash = h;
    report(msg);
}

static nvmlReturn_t do_init(enum sym_id which, unsigned int flags) {
    nvmlReturn_t rc;
    char msg[16384];
    void *fp;
    pthread_mutex_lock(&g_lock);
    if (g_refcount > 0) {
        rc = NVML_SUCCESS;
        if (g_cfg->mode == SHIM_MODE_FORWARD) {
            fp = resolve(which);
            rc = fp ? call_real_init(which, flags, fp) : NVML_ERROR_FUNCTION_NOT_FOUND;
        }
        if (rc == NVML_SUCCESS) g_refcount++;
        pthread_mutex_unlock(&g_lock);
        return rc;
    }

    /* secure_getenv: a set-id or file-capability program is not steered by its caller's environment
     * into loading a library ('real') or creating a file ('trace'). */
    const char *path = secure_getenv(SHIM_CONFIG_ENV);
    const char *root = secure_getenv(SHIM_ROOT_ENV);  /* "" or unset: "/" */
    if (root == NULL) root = "";
    char default_path[SHIM_PATH_MAX];
    int named = path != NULL && path[0] != '\0';
    if (!named) {
        snprintf(default_path, sizeof default_path, "%s%s", root, SHIM_DEFAULT_CONFIG);
        path = default_path;
    }
    struct shim_config *c = malloc(sizeof *c);
    if (c == NULL) {
        report_once("out of memory");
        pthread_mutex_unlock(&g_lock);
        return NVML_ERROR_MEMORY;
    }
    int newfd = -1;
    rc = shim_config_read(path, !named, c, msg, sizeof msg);
    if (rc != NVML_SUCCESS) goto fail_report;

    if (c->mode == SHIM_MODE_FORWARD && c->real[0] == '\0') {
        char looked[2048];
        if (!shim_find_real(root, c->real, sizeof c->real, looked, sizeof looked)) {
            if (c->no_file)
                snprintf(msg, sizeof msg, "no config file %s and no NVIDIA NVML installed (looked in %s); "
                         "install the NVIDIA driver, or describe the GPUs in that file (mode = virtual)", c->path, looked);
            else
                snprintf(msg, sizeof msg, "%s:%u: forward mode without 'real', and no NVIDIA NVML installed (looked in %s)",
                         c->path, c->mode_line, looked);
            rc = NVML_ERROR_LIBRARY_NOT_FOUND;
            goto fail_report;
        }
    }
    if (c->trace[0] != '\0') {
        newfd = open(c->trace, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
        if (newfd < 0) {
            char eb[128];
            snprintf(msg, sizeof msg, "%s:%u: cannot open trace file '%s': %s", c->path, c->trace_line, c->trace, strerror_r(errno, eb, sizeof eb));
            rc = NVML_ERROR_OPERATING_SYSTEM;
            goto fail_report;
        }
    }
    if (c->mode == SHIM_MODE_FORWARD) {
        if (load_real(c, &rc, msg, sizeof msg) == NULL) goto fail_report;
        fp = resolve(which);
        if (fp == NULL) {
            char origin[SHIM_PATH_MAX + 64];
            real_origin(c, origin, sizeof origin);
            snprintf(msg, sizeof msg, "%sthe real NVML '%s' lacks %s", origin, c->real, sym_names[which]);
            rc = NVML_ERROR_FUNCTION_NOT_FOUND;
            goto fail_report;
        }
        rc = call_real_init(which, flags, fp);
        if (rc != NVML_SUCCESS) {  /* the real library's own answer, passed on unchanged */
            if (newfd >= 0) close(newfd);
            free(c);
            pthread_mutex_unlock(&g_lock);
            return rc;
        }
    }
    /* The trace follows the config just loaded: a config without 'trace' ends an earlier trace. */
    pthread_mutex_lock(&g_trace_lock);
    int old = atomic_exchange(&g_trace_fd, newfd);
    pthread_mutex_unlock(&g_trace_lock);
    if (old >= 0) close(old);
    free(g_cfg);
    g_cfg = c;
    g_refcount = 1;
    g_reported = 0;
    if (tracing()) {
        struct tb t;
        tb_begin(&t, "#config");
        tb_str(&t, c->path, SHIM_PATH_MAX);
        tb_printf(&t, ") mode=%s devices=%u", c->mode == SHIM_MODE_FORWARD ? "forward" : "virtual", c->device_count);
        if (c->mode == SHIM_MODE_FORWARD) { tb_printf(&t, " real="); tb_str(&t, c->real, SHIM_PATH_MAX); }
        tb_emit(&t);
    }
    pthread_mutex_unlock(&g_lock);
    return NVML_SUCCESS;

fail_report:
    if (newfd >= 0) close(newfd);
    free(c);
    report_once(msg);
    pthread_mutex_unlock(&g_lock);
    return rc;
}

static nvmlReturn_t traced_init(enum sym_id which, unsigned int flags, int with_flags) {
    nvmlReturn_t rc = do_init(which, flags);
    if (tracing()) {
        struct tb t;
        tb_begin(&t, sym_names[which]);
        if (with_flags) tb_printf(&t, "flags=0x%x", flags);
        tb_result(&t, rc);
        tb_emit(&t);
    }
    return rc;
}

EXPORT nvmlReturn_t nvmlInit(void) {
    PASS_INNER(S_nvmlInit, fn_void_t, ());
    return traced_init(S_nvmlInit, 0, 0);
}

EXPORT nvmlReturn_t nvmlInit_v2(void) {
    PASS_INNER(S_nvmlInit_v2, fn_void_t, ());
    return traced_init(S_nvmlInit_v2, 0, 0);
}

EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int flags) {
    PASS_INNER(S_nvmlInitWithFlags, fn_flags_t, (flags));
    return traced_init(S_nvmlInitWithFlags, flags, 1);
}

EXPORT nvmlReturn_t nvmlShutdown(void) {
    PASS_INNER(S_nvmlShutdown, fn_void_t, ());
    nvmlReturn_t rc = NVML_SUCCESS;
    pthread_mutex_lock(&g_lock);
    if (g_refcount == 0) {
        rc = NVML_ERROR_UNINITIALIZED;
    } else {
        int counts = 1;
        if (g_cfg->mode == SHIM_MODE_FORWARD) {
            /* The shim's count mirrors the real library's: a shutdown the real library refuses
             * leaves it initialized, so the shim stays initialized too and keeps forwarding. */
            void *fp = resolve(S_nvmlShutdown);
            rc = fp ? FORWARD(fp, fn_void_t, ()) : NVML_ERROR_FUNCTION_NOT_FOUND;
            counts = fp == NULL || rc == NVML_SUCCESS;
        }
        if (counts && --g_refcount == 0) {
            free(g_cfg);
            g_cfg = NULL;
        }
    }
    pthread_mutex_unlock(&g_lock);
    if (tracing()) {
        struct tb t;
        tb_begin(&t, "nvmlShutdown");
        tb_result(&t, rc);
        tb_emit(&t);
    }
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* nvmlErrorString.                                                                           */

typedef const char *(*fn_errstr_t)(nvmlReturn_t);

EXPORT const char *nvmlErrorString(nvmlReturn_t result) {
    if (t_depth > 0) {
        void *fp = resolve(S_nvmlErrorString);
        return fp ? ((fn_errstr_t)fp)(result) : code_text(result);
    }
    const char *s = NULL;
    void *fp = NULL;
    pthread_mutex_lock(&g_lock);
    int forward = g_refcount > 0 && g_cfg->mode == SHIM_MODE_FORWARD;
    pthread_mutex_unlock(&g_lock);
    if (forward && (fp = resolve(S_nvmlErrorString)) != NULL) {
        t_depth++;
        s = ((fn_errstr_t)fp)(result);
        t_depth--;
    }
    if (s == NULL) s = code_text(result);
    if (tracing()) {
        struct tb t;
        tb_begin(&t, "nvmlErrorString");
        tb_printf(&t, "result=%d) = ", (int)result);
        tb_str(&t, s, 256);
        tb_emit(&t);
    }
    return s;
}

/* ------------------------------------------------------------------------------------------ */
/* System queries.                                                                            */

typedef nvmlReturn_t (*fn_strbuf_t)(char *, unsigned int);
typedef nvmlReturn_t (*fn_intp_t)(int *);

static nvmlReturn_t system_string(enum sym_id id, char *buf, unsigned int len, int nvml) {
    PASS_INNER(id, fn_strbuf_t, (buf, len));
    void *fp;
    nvmlReturn_t rc = enter(id, &fp);
    if (rc == NVML_SUCCESS) {
        if (fp) {
            (void)FORWARD(fp, fn_strbuf_t, (buf, len));
        } else {
            rc = buf == NULL ? NVML_ERROR_INVALID_ARGUMENT
                             : out_str(buf, len, nvml ? g_cfg->nvml_version : g_cfg->driver_version);
            pthread_mutex_unlock(&g_lock);
        }
    }
    if (tracing()) {
        struct tb t;
        tb_begin(&t, sym_names[id]);
        tb_printf(&t, "version=%p, length=%u", (void *)buf, len);
        tb_result(&t, rc);
        if (rc == NVML_SUCCESS) { tb_printf(&t, " -> version="); tb_str(&t, buf, len); }
        tb_emit(&t);
    }
    return rc;
}

EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    return system_string(S_nvmlSystemGetDriverVersion, version, length, 0);
}

EXPORT nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length) {
    return system_string(S_nvmlSystemGetNVMLVersion, version, length, 1);
}

static nvmlReturn_t cuda_version(enum sym_id id, int *v) {
    PASS_INNER(id, fn_intp_t, (v));
    void *fp;
    nvmlReturn_t rc = enter(id, &fp);
    if (rc == NVML_SUCCESS) {
        if (fp) {
            (void)FORWARD(fp, fn_intp_t, (v));
        } else {
            if (v == NULL) rc = NVML_ERROR_INVALID_ARGUMENT;
            else *v = g_cfg->cuda_driver_version;
            pthread_mutex_unlock(&g_lock);
        }
    }
    if (tracing()) {
        struct tb t;
        tb_begin(&t, sym_names[id]);
        tb_printf(&t, "cudaDriverVersion=%p", (void *)v);
        tb_result(&t, rc);
        if (rc == NVML_SUCCESS) tb_printf(&t, " -> cudaDriverVersion=%d", *v);
        tb_emit(&t);
    }
    return rc;
}

EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *cudaDriverVersion) {
    return cuda_version(S_nvmlSystemGetCudaDriverVersion, cudaDriverVersion);
}

EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *cudaDriverVersion) {
    return cuda_version(S_nvmlSystemGetCudaDriverVersion_v2, cudaDriverVersion);
}

/* ------------------------------------------------------------------------------------------ */
/* Device enumeration.                                                                        */

typedef nvmlReturn_t (*fn_uintp_t)(unsigned int *);
typedef nvmlReturn_t (*fn_byindex_t)(unsigned int, nvmlDevice_t *);
typedef nvmlReturn_t (*fn_bystr_t)(const char *, nvmlDevice_t *);

static nvmlReturn_t device_count(enum sym_id id, unsigned int *count) {
    PASS_INNER(id, fn_uintp_t, (count));
    void *fp;
    nvmlReturn_t rc = enter(id, &fp);
    if (rc == NVML_SUCCESS) {
        if (fp) {
            (void)FORWARD(fp, fn_uintp_t, (count));
        } else {
            if (count == NULL) rc = NVML_ERROR_INVALID_ARGUMENT;
            else *count = g_cfg->device_count;
            pthread_mutex_unlock(&g_lock);
        }
    }
    if (tracing()) {
        struct tb t;
        tb_begin(&t, sym_names[id]);
        tb_printf(&t, "deviceCount=%p", (void *)count);
        tb_result(&t, rc);
        if (rc == NVML_SUCCESS) tb_printf(&t, " -> deviceCount=%u", *count);
        tb_emit(&t);
    }
    return rc;
}

EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned int *deviceCount) {
    return device_count(S_nvmlDeviceGetCount, deviceCount);
}

EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount) {
    return device_count(S_nvmlDeviceGetCount_v2, deviceCount);
}

static nvmlReturn_t handle_by_index(enum sym_id id, unsigned int index, nvmlDevice_t *device) {
    PASS_INNER(id, fn_byindex_t, (index, device));
    void *fp;
    nvmlReturn_t rc = enter(id, &fp);
    if (rc == NVML_SUCCESS) {
        if (fp) {
            (void)FORWARD(fp, fn_byindex_t, (index, device));
        } else {
            if (device == NULL || index >= g_cfg->device_count) rc = NVML_ERROR_INVALID_ARGUMENT;
            else *device = &g_handles[index];
            pthread_mutex_unlock(&g_lock);
        }
    }
    if (tracing()) {
        struct tb t;
        tb_begin(&t, sym_names[id]);
        tb_printf(&t, "index=%u, device=%p", index, (void *)device);
        tb_result(&t, rc);
        if (rc == NVML_SUCCESS) tb_printf(&t, " -> device=%p", (void *)*device);
        tb_emit(&t);
    }
    return rc;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device) {
    return handle_by_index(S_nvmlDeviceGetHandleByIndex, index, device);
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    return handle_by_index(S_nvmlDeviceGetHandleByIndex_v2, index, device);
}

static nvmlReturn_t handle_by_string(enum sym_id id, const char *key, nvmlDevice_t *device, int by_bus) {
    PASS_INNER(id, fn_bystr_t, (key, device));
    void *fp;
    nvmlReturn_t rc = enter(id, &fp);
    if (rc == NVML_SUCCESS) {
        if (fp) {
            (void)FORWARD(fp, fn_bystr_t, (key, device));
        } else {
            unsigned int dom = 0, bus = 0, dev = 0;
            if (key == NULL || device == NULL) rc = NVML_ERROR_INVALID_ARGUMENT;
            else if (by_bus && !shim_parse_bus_id(key, &dom, &bus, &dev)) rc = NVML_ERROR_INVALID_ARGUMENT;
            else {
                rc = NVML_ERROR_NOT_FOUND;
                for (unsigned int i = 0; i < g_cfg->device_count; i++) {
                    const struct shim_device_info *d = &g_cfg->devices[i];
                    int match = by_bus ? (d->domain == dom && d->bus == bus && d->device == dev)
                                       : strcasecmp(d->uuid, key) == 0;
                    if (match) {
                        *device = &g_handles[i];
                        rc = NVML_SUCCESS;
                        break;
                    }
                }
            }
            pthread_mutex_unlock(&g_lock);
        }
    }
    if (tracing()) {
        struct tb t;
        tb_begin(&t, sym_names[id]);
        tb_printf(&t, by_bus ? "pciBusId=" : "uuid=");
        tb_str(&t, key, 128);
        tb_printf(&t, ", device=%p", (void *)device);
        tb_result(&t, rc);
        if (rc == NVML_SUCCESS) tb_printf(&t, " -> device=%p", (void *)*device);
        tb_emit(&t);
    }
    return rc;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device) {
    return handle_by_string(S_nvmlDeviceGetHandleByUUID, uuid, device, 0);
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char *pciBusId, nvmlDevice_t *device) {
    return handle_by_string(S_nvmlDeviceGetHandleByPciBusId, pciBusId, device, 1);
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *pciBusId, nvmlDevice_t *device) {
    return handle_by_string(S_nvmlDeviceGetHandleByPciBusId_v2, pciBusId, device, 1);
}

/* ------------------------------------------------------------------------------------------ */
/* Device string queries.                                                                     */

typedef nvmlReturn_t (*fn_devstr_t)(nvmlDevice_t, char *, unsigned int);

enum dev_string { DS_NAME, DS_UUID, DS_SERIAL, DS_VBIOS, DS_PART };

static nvmlReturn_t device_string(enum sym_id id, enum dev_string which, const char *argname,
                                  nvmlDevice_t device, char *buf, unsigned int len) {
    PASS_INNER(id, fn_devstr_t, (device, buf, len));
    void *fp;
    nvmlReturn_t rc = enter(id, &fp);
    if (rc == NVML_SUCCESS) {
        if (fp) {
            (void)FORWARD(fp, fn_devstr_t, (device, buf, len));
        } else {
            const struct shim_device_info *d = vdev(device);
            if (d == NULL || buf == NULL) {
                rc = NVML_ERROR_INVALID_ARGUMENT;
            } else {
                const char *v = which == DS_NAME ? d->name
                              : which == DS_UUID ? d->uuid
                              : which == DS_SERIAL ? d->serial
                              : which == DS_VBIOS ? d->vbios_version : d->board_part_number;
                rc = v[0] == '\0' ? NVML_ERROR_NOT_SUPPORTED : out_str(buf, len, v);
            }
            pthread_mutex_unlock(&g_lock);
        }
    }
    if (tracing()) {
        struct tb t;
        tb_begin(&t, sym_names[id]);
        tb_printf(&t, "device=%p, %s=%p, length=%u", (void *)device, argname, (void *)buf, len);
        tb_result(&t, rc);
        if (rc == NVML_SUCCESS) { tb_printf(&t, " -> %s=", argname); tb_str(&t, buf, len); }
        tb_emit(&t);
    }
    return rc;
}

EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
    return device_string(S_nvmlDeviceGetName, DS_NAME, "name", device, name, length);
}

EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
    return device_string(S_nvmlDeviceGetUUID, DS_UUID, "uuid", device, uuid, length);
}

EXPORT nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t device, char *serial, unsigned int length) {
    return device_string(S_nvmlDeviceGetSerial, DS_SERIAL, "serial", device, serial, length);
}

EXPORT nvmlReturn_t nvmlDeviceGetVbiosVersion(nvmlDevice_t device, char *version, unsigned int length) {
    return device_string(S_nvmlDeviceGetVbiosVersion, DS_VBIOS, "version", device, version, length);
}

EXPORT nvmlReturn_t nvmlDeviceGetBoardPartNumber(nvmlDevice_t device, char *partNumber, unsigned int length) {
    return device_string(S_nvmlDeviceGetBoardPartNumber, DS_PART, "partNumber", device, partNumber, length);
}

/* ------------------------------------------------------------------------------------------ */
/* PCI info.                                                                                  */

typedef nvmlReturn_t (*fn_pci_t)(nvmlDevice_t, void *);

static nvmlReturn_t pci_info(enum sym_id id, nvmlDevice_t device, void *out, int legacy) {
    PASS_INNER(id, fn_pci_t, (device, out));
    void *fp;
    nvmlReturn_t rc = enter(id, &fp);
    if (rc == NVML_SUCCESS) {
        if (fp) {
            (void)FORWARD(fp, fn_pci_t, (device, out));
        } else {
            const struct shim_device_info *d = vdev(device);
            if (d == NULL || out == NULL) {
                rc = NVML_ERROR_INVALID_ARGUMENT;
            } else {
                char lg[16] = {0}, full[32] = {0};  /* bytes after the NUL are zero, not stack garbage */
                format_bus_ids(d, lg, full);
                if (legacy) {
                    nvmlShimPciInfoLegacy_t p;
                    memset(&p, 0, sizeof p);
                    memcpy(p.busId, lg, sizeof p.busId);
                    p.domain = d->domain; p.bus = d->bus; p.device = d->device;
                    p.pciDeviceId = d->pci_device_id; p.pciSubSystemId = d->pci_subsystem_id;
                    memcpy(out, &p, sizeof p);
                } else {
                    nvmlPciInfo_t p;
                    memset(&p, 0, sizeof p);
                    memcpy(p.busIdLegacy, lg, sizeof p.busIdLegacy);
                    memcpy(p.busId, full, sizeof p.busId);
                    p.domain = d->domain; p.bus = d->bus; p.device = d->device;
                    p.pciDeviceId = d->pci_device_id; p.pciSubSystemId = d->pci_subsystem_id;
                    memcpy(out, &p, sizeof p);
                }
            }
            pthread_mutex_unlock(&g_lock);
        }
    }
    if (tracing()) {
        struct tb t;
        tb_begin(&t, sym_names[id]);
        tb_printf(&t, "device=%p, pci=%p", (void *)device, out);
        tb_result(&t, rc);
        if (rc == NVML_SUCCESS && legacy) {
            nvmlShimPciInfoLegacy_t p;
            memcpy(&p, out, sizeof p);
            tb_printf(&t, " -> busId=");
            tb_str(&t, p.busId, sizeof p.busId);
            tb_printf(&t, " domain=0x%x bus=0x%x device=0x%x pciDeviceId=0x%08x pciSubSystemId=0x%08x",
                      p.domain, p.bus, p.device, p.pciDeviceId, p.pciSubSystemId);
        } else if (rc == NVML_SUCCESS) {
            nvmlPciInfo_t p;
            memcpy(&p, out, sizeof p);
            tb_printf(&t, " -> busId=");
            tb_str(&t, p.busId, sizeof p.busId);
            tb_printf(&t, " busIdLegacy=");
            tb_str(&t, p.busIdLegacy, sizeof p.busIdLegacy);
            tb_printf(&t, " domain=0x%x bus=0x%x device=0x%x pciDeviceId=0x%08x pciSubSystemId=0x%08x",
                      p.domain, p.bus, p.device, p.pciDeviceId, p.pciSubSystemId);
        }
        tb_emit(&t);
    }
    return rc;
}

EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci) {
    return pci_info(S_nvmlDeviceGetPciInfo_v3, device, pci, 0);
}

/* The unversioned and _v2 entry points serve binaries built against headers older than _v3,
 * whose nvmlPciInfo_t is the 52-byte legacy layout; writing the 68-byte one would overrun. */
EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t device, nvmlShimPciInfoLegacy_t *pci) {
    return pci_info(S_nvmlDeviceGetPciInfo_v2, device, pci, 1);
}

EXPORT nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t device, nvmlShimPciInfoLegacy_t *pci) {
    return pci_info(S_nvmlDeviceGetPciInfo, device, pci, 1);
}

/* ------------------------------------------------------------------------------------------ */
/* Index, memory, compute capability, brand.                                                  */

typedef nvmlReturn_t (*fn_devuint_t)(nvmlDevice_t, unsigned int *);
typedef nvmlReturn_t (*fn_mem_t)(nvmlDevice_t, void *);
typedef nvmlReturn_t (*fn_cc_t)(nvmlDevice_t, int *, int *);
typedef nvmlReturn_t (*fn_brand_t)(nvmlDevice_t, nvmlBrandType_t *);

EXPORT nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index) {
    PASS_INNER(S_nvmlDeviceGetIndex, fn_devuint_t, (device, index));
    void *fp;
    nvmlReturn_t rc = enter(S_nvmlDeviceGetIndex, &fp);
    if (rc == NVML_SUCCESS) {
        if (fp) {
            (void)FORWARD(fp, fn_devuint_t, (device, index));
        } else {
            const struct shim_device_info *d = vdev(device);
            if (d == NULL || index == NULL) rc = NVML_ERROR_INVALID_ARGUMENT;
            else *index = (unsigned int)(d - g_cfg->devices);
            pthread_mutex_unlock(&g_lock);
        }
    }
    if (tracing()) {
        struct tb t;
        tb_begin(&t, "nvmlDeviceGetIndex");
        tb_printf(&t, "device=%p, index=%p", (void *)device, (void *)index);
        tb_result(&t, rc);
        if (rc == NVML_SUCCESS) tb_printf(&t, " -> index=%u", *index);
        tb_emit(&t);
    }
    return rc;
}

static nvmlReturn_t memory_info(enum sym_id id, nvmlDevice_t device, void *out, int v2) {
    PASS_INNER(id, fn_mem_t, (device, out));
    void *fp;
    nvmlReturn_t rc = enter(id, &fp);
    unsigned int version_in = 0;
    if (rc == NVML_SUCCESS && v2 && out != NULL) memcpy(&version_in, out, sizeof version_in);
    if (rc == NVML_SUCCESS) {
        if (fp) {
            (void)FORWARD(fp, fn_mem_t, (device, out));
        } else {
            const struct shim_device_info *d = vdev(device);
            if (d == NULL || out == NULL) {
                rc = NVML_ERROR_INVALID_ARGUMENT;
            } else if (v2) {
                if (version_in != nvmlMemory_v2) {
                    rc = NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
                } else {
                    nvmlMemory_v2_t m;
                    memset(&m, 0, sizeof m);
                    m.version = version_in;
                    m.total = d->memory_total;
                    m.reserved = 0;
                    m.used = d->memory_used;
                    m.free = free_bytes(d);
                    memcpy(out, &m, sizeof m);
                }
            } else {
                nvmlMemory_t m;
                m.total = d->memory_total;
                m.used = d->memory_used;
                m.free = free_bytes(d);
                memcpy(out, &m, sizeof m);
            }
            pthread_mutex_unlock(&g_lock);
        }
    }
    if (tracing()) {
        struct tb t;
        tb_begin(&t, sym_names[id]);
        tb_printf(&t, "device=%p, memory=%p", (void *)device, out);
        if (v2 && out != NULL) tb_printf(&t, " {version=0x%08x}", version_in);
        tb_result(&t, rc);
        if (rc == NVML_SUCCESS && v2) {
            nvmlMemory_v2_t m;
            memcpy(&m, out, sizeof m);
            tb_printf(&t, " -> version=0x%08x total=%llu reserved=%llu free=%llu used=%llu", m.version, m.total, m.reserved, m.free, m.used);
        } else if (rc == NVML_SUCCESS) {
            nvmlMemory_t m;
            memcpy(&m, out, sizeof m);
            tb_printf(&t, " -> total=%llu free=%llu used=%llu", m.total, m.free, m.used);
        }
        tb_emit(&t);
    }
    return rc;
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
    return memory_info(S_nvmlDeviceGetMemoryInfo, device, memory, 0);
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory) {
    return memory_info(S_nvmlDeviceGetMemoryInfo_v2, device, memory, 1);
}

EXPORT nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int *major, int *minor) {
    PASS_INNER(S_nvmlDeviceGetCudaComputeCapability, fn_cc_t, (device, major, minor));
    void *fp;
    nvmlReturn_t rc = enter(S_nvmlDeviceGetCudaComputeCapability, &fp);
    if (rc == NVML_SUCCESS) {
        if (fp) {
            (void)FORWARD(fp, fn_cc_t, (device, major, minor));
        } else {
            const struct shim_device_info *d = vdev(device);
            if (d == NULL || major == NULL || minor == NULL) {
                rc = NVML_ERROR_INVALID_ARGUMENT;
            } else {
                *major = d->cc_major;
                *minor = d->cc_minor;
            }
            pthread_mutex_unlock(&g_lock);
        }
    }
    if (tracing()) {
        struct tb t;
        tb_begin(&t, "nvmlDeviceGetCudaComputeCapability");
        tb_printf(&t, "device=%p, major=%p, minor=%p", (void *)device, (void *)major, (void *)minor);
        tb_result(&t, rc);
        if (rc == NVML_SUCCESS) tb_printf(&t, " -> major=%d minor=%d", *major, *minor);
        tb_emit(&t);
    }
    return rc;
}

EXPORT nvmlReturn_t nvmlDeviceGetBrand(nvmlDevice_t device, nvmlBrandType_t *type) {
    PASS_INNER(S_nvmlDeviceGetBrand, fn_brand_t, (device, type));
    void *fp;
    nvmlReturn_t rc = enter(S_nvmlDeviceGetBrand, &fp);
    if (rc == NVML_SUCCESS) {
        if (fp) {
            (void)FORWARD(fp, fn_brand_t, (device, type));
        } else {
            const struct shim_device_info *d = vdev(device);
            if (d == NULL || type == NULL) rc = NVML_ERROR_INVALID_ARGUMENT;
            else *type = (nvmlBrandType_t)d->brand;
            pthread_mutex_unlock(&g_lock);
        }
    }
    if (tracing()) {
        struct tb t;
        tb_begin(&t, "nvmlDeviceGetBrand");
        tb_printf(&t, "device=%p, type=%p", (void *)device, (void *)type);
        tb_result(&t, rc);
        if (rc == NVML_SUCCESS) tb_printf(&t, " -> type=%d", (int)*type);
        tb_emit(&t);
    }
    return rc;
}
