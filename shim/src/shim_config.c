/* Config file parser of the ollama-patch NVML shim. See README.md for the format. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim_internal.h"

#define MAX_LINE 4096

/* Keys of [device.N]; order = bit index in the "seen" mask. */
static const char *const device_keys[] = {
    "name", "uuid", "pci_bus_id", "pci_device_id", "pci_subsystem_id", "memory_total",
    "memory_used", "compute_capability", "serial", "vbios_version", "board_part_number", "brand",
};
enum { DK_NAME, DK_UUID, DK_BUS, DK_DEVID, DK_SUBSYS, DK_MEMTOTAL, DK_MEMUSED, DK_CC, DK_SERIAL,
       DK_VBIOS, DK_PART, DK_BRAND, DK_COUNT };

static const char *const shim_keys[] = {
    "mode", "real", "trace", "driver_version", "cuda_driver_version", "nvml_version",
};
enum { SK_MODE, SK_REAL, SK_TRACE, SK_DRIVER, SK_CUDA, SK_NVML, SK_COUNT };

static const char *const brand_names[] = {
    "unknown", "quadro", "tesla", "nvs", "grid", "geforce", "titan", "nvidia_vapps", "nvidia_vpc",
    "nvidia_vcs", "nvidia_vws", "nvidia_cloud_gaming", "quadro_rtx", "nvidia_rtx", "nvidia",
    "geforce_rtx", "titan_rtx",
};

struct parse_state {
    const char *path;
    char *msg;
    size_t msglen;
    unsigned int line;
};

__attribute__((format(printf, 3, 4)))
static nvmlReturn_t fail(struct parse_state *ps, nvmlReturn_t code, const char *fmt, ...) {
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    snprintf(ps->msg, ps->msglen, "%s:%u: %s", ps->path, ps->line, text);
    return code;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) s[--n] = '\0';
    return s;
}

/* Decimal, or 0x hex. A leading zero does not mean octal: "010" is ten (README, "Numbers"). */
int shim_parse_u64(const char *s, unsigned long long *out) {
    unsigned long long v = 0;
    unsigned int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (*s == '\0') return 0;
    for (; *s != '\0'; s++) {
        unsigned int d;
        unsigned char c = (unsigned char)*s;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (base == 16 && c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return 0;  /* no sign, no blanks, no suffix */
        if (v > (~0ull - d) / base) return 0;  /* overflow */
        v = v * base + d;
    }
    *out = v;
    return 1;
}

static int parse_u64(const char *s, unsigned long long *out) {
    return shim_parse_u64(s, out);
}

static int parse_u32(const char *s, unsigned int *out) {
    unsigned long long v;
    if (!parse_u64(s, &v) || v > 0xFFFFFFFFull) return 0;
    *out = (unsigned int)v;
    return 1;
}

static int hexfield(const char **p, unsigned int maxdigits, unsigned int *out) {
    unsigned int v = 0, n = 0;
    while (isxdigit((unsigned char)**p)) {
        if (++n > maxdigits) return 0;
        int c = tolower((unsigned char)**p);
        v = v * 16u + (unsigned int)(isdigit(c) ? c - '0' : c - 'a' + 10);
        (*p)++;
    }
    if (n == 0) return 0;
    *out = v;
    return 1;
}

int shim_parse_bus_id(const char *s, unsigned int *domain, unsigned int *bus, unsigned int *device) {
    unsigned int a, b, c, f;
    const char *p = s;
    if (!hexfield(&p, 8, &a) || *p++ != ':') return 0;
    if (!hexfield(&p, 2, &b)) return 0;
    if (*p == ':') {          /* domain:bus:device.function */
        p++;
        if (!hexfield(&p, 2, &c)) return 0;
        if (*p++ != '.' || !hexfield(&p, 1, &f) || *p != '\0' || f != 0) return 0;
        *domain = a; *bus = b; *device = c;
        return 1;
    }
    /* bus:device.function (domain 0) */
    if (a > 0xFF || *p++ != '.' || !hexfield(&p, 1, &f) || *p != '\0' || f != 0) return 0;
    *domain = 0; *bus = a; *device = b;
    return 1;
}

static int copy_str(char *dst, size_t cap, const char *v) {
    size_t n = strlen(v);
    if (n >= cap) return 0;
    memcpy(dst, v, n + 1);
    return 1;
}

/* Which section we are in. */
enum section_kind { SEC_NONE, SEC_SHIM, SEC_DEVICE };

struct section_info {
    unsigned int line;        /* line of the [device.N] header */
    unsigned int seen;        /* keys seen (bit mask) */
    unsigned int seen_line[DK_COUNT];
};

static nvmlReturn_t set_device_key(struct parse_state *ps, struct shim_device_info *d, unsigned int idx,
                                   int key, const char *v) {
    const char *k = device_keys[key];
    switch (key) {
    case DK_NAME:
        if (!copy_str(d->name, sizeof d->name, v))
            return fail(ps, NVML_ERROR_UNKNOWN, "value of '%s' in [device.%u] is longer than %zu bytes", k, idx, sizeof d->name - 1);
        return NVML_SUCCESS;
    case DK_UUID:
        if (!copy_str(d->uuid, sizeof d->uuid, v))
            return fail(ps, NVML_ERROR_UNKNOWN, "value of '%s' in [device.%u] is longer than %zu bytes", k, idx, sizeof d->uuid - 1);
        return NVML_SUCCESS;
    case DK_SERIAL:
        if (!copy_str(d->serial, sizeof d->serial, v))
            return fail(ps, NVML_ERROR_UNKNOWN, "value of '%s' in [device.%u] is longer than %zu bytes", k, idx, sizeof d->serial - 1);
        return NVML_SUCCESS;
    case DK_VBIOS:
        if (!copy_str(d->vbios_version, sizeof d->vbios_version, v))
            return fail(ps, NVML_ERROR_UNKNOWN, "value of '%s' in [device.%u] is longer than %zu bytes", k, idx, sizeof d->vbios_version - 1);
        return NVML_SUCCESS;
    case DK_PART:
        if (!copy_str(d->board_part_number, sizeof d->board_part_number, v))
            return fail(ps, NVML_ERROR_UNKNOWN, "value of '%s' in [device.%u] is longer than %zu bytes", k, idx, sizeof d->board_part_number - 1);
        return NVML_SUCCESS;
    case DK_BUS:
        if (!shim_parse_bus_id(v, &d->domain, &d->bus, &d->device))
            return fail(ps, NVML_ERROR_UNKNOWN, "bad PCI bus id '%s' for '%s' in [device.%u] (expected e.g. 00000000:00:05.0)", v, k, idx);
        return NVML_SUCCESS;
    case DK_DEVID:
        if (!parse_u32(v, &d->pci_device_id))
            return fail(ps, NVML_ERROR_UNKNOWN, "bad number '%s' for '%s' in [device.%u]", v, k, idx);
        return NVML_SUCCESS;
    case DK_SUBSYS:
        if (!parse_u32(v, &d->pci_subsystem_id))
            return fail(ps, NVML_ERROR_UNKNOWN, "bad number '%s' for '%s' in [device.%u]", v, k, idx);
        return NVML_SUCCESS;
    case DK_MEMTOTAL:
        if (!parse_u64(v, &d->memory_total))
            return fail(ps, NVML_ERROR_UNKNOWN, "bad number '%s' for '%s' in [device.%u]", v, k, idx);
        return NVML_SUCCESS;
    case DK_MEMUSED:
        if (!parse_u64(v, &d->memory_used))
            return fail(ps, NVML_ERROR_UNKNOWN, "bad number '%s' for '%s' in [device.%u]", v, k, idx);
        return NVML_SUCCESS;
    case DK_CC: {
        unsigned int maj, min;
        char *dot = strchr(v, '.');
        char tmp[32];
        if (dot == NULL || strlen(v) >= sizeof tmp)
            return fail(ps, NVML_ERROR_UNKNOWN, "bad compute capability '%s' in [device.%u] (expected MAJOR.MINOR, e.g. 9.0)", v, idx);
        memcpy(tmp, v, (size_t)(dot - v));
        tmp[dot - v] = '\0';
        if (!parse_u32(tmp, &maj) || !parse_u32(dot + 1, &min) || maj > 1000 || min > 1000 ||
            strchr(tmp, 'x') || strchr(dot + 1, 'x') || strchr(tmp, 'X') || strchr(dot + 1, 'X'))
            return fail(ps, NVML_ERROR_UNKNOWN, "bad compute capability '%s' in [device.%u] (expected MAJOR.MINOR, e.g. 9.0)", v, idx);
        d->cc_major = (int)maj;
        d->cc_minor = (int)min;
        return NVML_SUCCESS;
    }
    case DK_BRAND: {
        unsigned int n;
        if (parse_u32(v, &n) && n < NVML_BRAND_COUNT) { d->brand = (int)n; return NVML_SUCCESS; }
        for (unsigned int i = 0; i < sizeof brand_names / sizeof brand_names[0]; i++)
            if (strcasecmp(v, brand_names[i]) == 0) { d->brand = (int)i; return NVML_SUCCESS; }
        return fail(ps, NVML_ERROR_UNKNOWN, "unknown brand '%s' in [device.%u] (use a number 0..16 or a name such as tesla, geforce, nvidia)", v, idx);
    }
    }
    return fail(ps, NVML_ERROR_UNKNOWN, "internal error");
}

static nvmlReturn_t set_shim_key(struct parse_state *ps, struct shim_config *c, int key, const char *v) {
    switch (key) {
    case SK_MODE:
        if (strcmp(v, "virtual") == 0) c->mode = SHIM_MODE_VIRTUAL;
        else if (strcmp(v, "forward") == 0) c->mode = SHIM_MODE_FORWARD;
        else return fail(ps, NVML_ERROR_UNKNOWN, "bad mode '%s' in [shim] (expected virtual or forward)", v);
        return NVML_SUCCESS;
    case SK_REAL:
        if (!copy_str(c->real, sizeof c->real, v))
            return fail(ps, NVML_ERROR_UNKNOWN, "value of 'real' in [shim] is too long");
        return NVML_SUCCESS;
    case SK_TRACE:
        if (!copy_str(c->trace, sizeof c->trace, v))
            return fail(ps, NVML_ERROR_UNKNOWN, "value of 'trace' in [shim] is too long");
        return NVML_SUCCESS;
    case SK_DRIVER:
        if (!copy_str(c->driver_version, sizeof c->driver_version, v))
            return fail(ps, NVML_ERROR_UNKNOWN, "value of 'driver_version' in [shim] is longer than %zu bytes", sizeof c->driver_version - 1);
        return NVML_SUCCESS;
    case SK_NVML:
        if (!copy_str(c->nvml_version, sizeof c->nvml_version, v))
            return fail(ps, NVML_ERROR_UNKNOWN, "value of 'nvml_version' in [shim] is longer than %zu bytes", sizeof c->nvml_version - 1);
        return NVML_SUCCESS;
    case SK_CUDA: {
        unsigned int n;
        if (!parse_u32(v, &n) || n > 0x7FFFFFFF)
            return fail(ps, NVML_ERROR_UNKNOWN, "bad number '%s' for 'cuda_driver_version' in [shim]", v);
        c->cuda_driver_version = (int)n;
        return NVML_SUCCESS;
    }
    }
    return fail(ps, NVML_ERROR_UNKNOWN, "internal error");
}

/* Reads the whole config into a NUL-terminated buffer. O_NONBLOCK and the regular-file check keep a
 * FIFO, a device (/dev/zero) or a directory from blocking or flooding the host process. */
static nvmlReturn_t read_file(const char *path, int allow_missing, char **text, size_t *len, int *missing,
                              char *msg, size_t msglen) {
    char eb[128];
    *missing = 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == ENOENT && allow_missing) {
            *missing = 1;
            return NVML_SUCCESS;
        }
        snprintf(msg, msglen, "%s: cannot read config file: %s (set %s to choose another file)", path,
                 strerror_r(errno, eb, sizeof eb), SHIM_CONFIG_ENV);
        return NVML_ERROR_LIBRARY_NOT_FOUND;
    }
    struct stat st;
    if (shim_fstat(fd, &st) != 0) {
        snprintf(msg, msglen, "%s: cannot read config file: %s", path, strerror_r(errno, eb, sizeof eb));
        close(fd);
        return NVML_ERROR_LIBRARY_NOT_FOUND;
    }
    if (!S_ISREG(st.st_mode)) {
        const char *kind = S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISCHR(st.st_mode) ? "a character device"
                         : S_ISBLK(st.st_mode) ? "a block device" : S_ISDIR(st.st_mode) ? "a directory"
                         : S_ISSOCK(st.st_mode) ? "a socket" : "not a plain file";
        snprintf(msg, msglen, "%s: the config file is %s; it must be a regular file", path, kind);
        close(fd);
        return NVML_ERROR_UNKNOWN;
    }
    /* Read at most one byte more than allowed: a file that grows while being read is caught too. */
    char *buf = malloc(SHIM_CONFIG_MAX_BYTES + 2);
    if (buf == NULL) {
        snprintf(msg, msglen, "%s: out of memory", path);
        close(fd);
        return NVML_ERROR_MEMORY;
    }
    size_t n = 0;
    while (n <= SHIM_CONFIG_MAX_BYTES) {
        ssize_t k = read(fd, buf + n, SHIM_CONFIG_MAX_BYTES + 1 - n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            snprintf(msg, msglen, "%s: read error: %s", path, strerror_r(errno, eb, sizeof eb));
            free(buf);
            close(fd);
            return NVML_ERROR_LIBRARY_NOT_FOUND;
        }
        if (k == 0) break;
        n += (size_t)k;
    }
    close(fd);
    if (n > SHIM_CONFIG_MAX_BYTES) {
        snprintf(msg, msglen, "%s: the config file is larger than %d bytes; this is not a shim config", path, SHIM_CONFIG_MAX_BYTES);
        free(buf);
        return NVML_ERROR_UNKNOWN;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return NVML_SUCCESS;
}

nvmlReturn_t shim_config_read(const char *path, int allow_missing, struct shim_config *c, char *msg, size_t msglen) {
    struct parse_state ps = { path, msg, msglen, 0 };
    memset(c, 0, sizeof *c);
    if (!copy_str(c->path, sizeof c->path, path)) {
        snprintf(msg, msglen, "config path too long");
        return NVML_ERROR_LIBRARY_NOT_FOUND;
    }
    c->mode = SHIM_MODE_VIRTUAL;
    strcpy(c->driver_version, "570.86.15");
    c->cuda_driver_version = 12080;

    char *text = NULL;
    size_t text_len = 0;
    int missing;
    nvmlReturn_t frc = read_file(path, allow_missing, &text, &text_len, &missing, msg, msglen);
    if (frc != NVML_SUCCESS) return frc;
    if (missing) {  /* no config at all: never worse than no patch, forward to the real NVML */
        c->mode = SHIM_MODE_FORWARD;
        c->no_file = 1;
        return NVML_SUCCESS;
    }

    static const struct section_info zero_section;
    struct section_info *sections = calloc(SHIM_MAX_DEVICES, sizeof *sections);
    if (sections == NULL) {
        free(text);
        snprintf(msg, msglen, "%s: out of memory", path);
        return NVML_ERROR_MEMORY;
    }
    unsigned int shim_seen = 0, shim_seen_line[SK_COUNT] = {0};
    unsigned int shim_line = 0, mode_line = 0;
    unsigned int present = 0;  /* number of [device.N] sections */
    unsigned long long present_mask = 0;
    enum section_kind sec = SEC_NONE;
    unsigned int cur_dev = 0;
    nvmlReturn_t rc = NVML_SUCCESS;
    char buf[MAX_LINE + 2];

    for (size_t at = 0; at < text_len;) {
        ps.line++;
        const char *nl = memchr(text + at, '\n', text_len - at);
        size_t blen = (nl ? (size_t)(nl - text) + 1 : text_len) - at;
        if (blen > MAX_LINE + 1) {
            rc = fail(&ps, NVML_ERROR_UNKNOWN, "line longer than %d bytes", MAX_LINE);
            goto out;
        }
        memcpy(buf, text + at, blen);
        buf[blen] = '\0';
        at += blen;
        const char *nul = memchr(buf, '\0', blen);
        if (nul != NULL) {  /* C would silently cut the value there */
            rc = fail(&ps, NVML_ERROR_UNKNOWN, "NUL byte at column %zu; a config is text", (size_t)(nul - buf) + 1);
            goto out;
        }
        char *hash = strchr(buf, '#');
        if (hash) *hash = '\0';
        char *s = trim(buf);
        if (*s == '\0') continue;

        if (*s == '[') {
            char *end = strchr(s, ']');
            if (end == NULL || *trim(end + 1) != '\0') {
                rc = fail(&ps, NVML_ERROR_UNKNOWN, "malformed section header '%s'", s);
                goto out;
            }
            *end = '\0';
            char *name = trim(s + 1);
            if (strcmp(name, "shim") == 0) {
                if (shim_line) {
                    rc = fail(&ps, NVML_ERROR_UNKNOWN, "duplicate section [shim] (first at line %u)", shim_line);
                    goto out;
                }
                shim_line = ps.line;
                sec = SEC_SHIM;
                continue;
            }
            if (strncmp(name, "device.", 7) == 0) {
                unsigned int idx;
                const char *num = name + 7;
                if (!isdigit((unsigned char)num[0]) || (num[0] == '0' && num[1] != '\0') ||
                    strspn(num, "0123456789") != strlen(num) || strlen(num) > 6 ||
                    !parse_u32(num, &idx)) {
                    rc = fail(&ps, NVML_ERROR_UNKNOWN, "bad device section [%s] (expected [device.N], N = 0, 1, ...)", name);
                    goto out;
                }
                if (idx >= SHIM_MAX_DEVICES) {
                    rc = fail(&ps, NVML_ERROR_UNKNOWN, "device index %u in [%s] is too large (at most %d devices)", idx, name, SHIM_MAX_DEVICES);
                    goto out;
                }
                if (sections[idx].line) {
                    rc = fail(&ps, NVML_ERROR_UNKNOWN, "duplicate section [device.%u] (first at line %u)", idx, sections[idx].line);
                    goto out;
                }
                sections[idx] = zero_section;
                sections[idx].line = ps.line;
                present++;
                present_mask |= 1ull << idx;
                sec = SEC_DEVICE;
                cur_dev = idx;
                continue;
            }
            rc = fail(&ps, NVML_ERROR_UNKNOWN, "unknown section [%s] (expected [shim] or [device.N])", name);
            goto out;
        }

        char *eq = strchr(s, '=');
        if (eq == NULL) {
            rc = fail(&ps, NVML_ERROR_UNKNOWN, "expected 'key = value', got '%s'", s);
            goto out;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        if (*key == '\0') {
            rc = fail(&ps, NVML_ERROR_UNKNOWN, "missing key before '='");
            goto out;
        }
        if (sec == SEC_NONE) {
            rc = fail(&ps, NVML_ERROR_UNKNOWN, "key '%s' outside of any section (start with [shim] or [device.0])", key);
            goto out;
        }
        if (sec == SEC_SHIM) {
            int k = -1;
            for (int i = 0; i < SK_COUNT; i++)
                if (strcmp(key, shim_keys[i]) == 0) k = i;
            if (k < 0) {
                rc = fail(&ps, NVML_ERROR_UNKNOWN, "unknown key '%s' in [shim]", key);
                goto out;
            }
            if (shim_seen & (1u << k)) {
                rc = fail(&ps, NVML_ERROR_UNKNOWN, "duplicate key '%s' in [shim] (first at line %u)", key, shim_seen_line[k]);
                goto out;
            }
            if (*val == '\0') {
                rc = fail(&ps, NVML_ERROR_UNKNOWN, "empty value for '%s' in [shim]", key);
                goto out;
            }
            shim_seen |= 1u << k;
            shim_seen_line[k] = ps.line;
            if (k == SK_MODE) mode_line = c->mode_line = ps.line;
            if (k == SK_REAL) c->real_line = ps.line;
            if (k == SK_TRACE) c->trace_line = ps.line;
            if ((rc = set_shim_key(&ps, c, k, val)) != NVML_SUCCESS) goto out;
        } else {
            struct section_info *si = &sections[cur_dev];
            int k = -1;
            for (int i = 0; i < DK_COUNT; i++)
                if (strcmp(key, device_keys[i]) == 0) k = i;
            if (k < 0) {
                rc = fail(&ps, NVML_ERROR_UNKNOWN, "unknown key '%s' in [device.%u]", key, cur_dev);
                goto out;
            }
            if (si->seen & (1u << k)) {
                rc = fail(&ps, NVML_ERROR_UNKNOWN, "duplicate key '%s' in [device.%u] (first at line %u)", key, cur_dev, si->seen_line[k]);
                goto out;
            }
            if (*val == '\0') {
                rc = fail(&ps, NVML_ERROR_UNKNOWN, "empty value for '%s' in [device.%u]", key, cur_dev);
                goto out;
            }
            si->seen |= 1u << k;
            si->seen_line[k] = ps.line;
            if ((rc = set_device_key(&ps, &c->devices[cur_dev], cur_dev, k, val)) != NVML_SUCCESS) goto out;
        }
    }

    /* Whole-file checks. */
    for (unsigned int i = present; i < SHIM_MAX_DEVICES; i++) {
        if (!(present_mask & (1ull << i))) continue;
        unsigned int m = 0;  /* the first missing index */
        while (present_mask & (1ull << m)) m++;
        ps.line = sections[i].line;
        rc = fail(&ps, NVML_ERROR_UNKNOWN, "device sections must be numbered 0..%u without gaps, but [device.%u] is missing", present - 1, m);
        goto out;
    }
    static const int required[] = { DK_NAME, DK_UUID, DK_MEMTOTAL, DK_CC };
    for (unsigned int i = 0; i < present; i++) {
        struct shim_device_info *d = &c->devices[i];
        ps.line = sections[i].line;
        for (unsigned int r = 0; r < sizeof required / sizeof required[0]; r++)
            if (!(sections[i].seen & (1u << required[r]))) {
                rc = fail(&ps, NVML_ERROR_UNKNOWN, "[device.%u] lacks required key '%s'", i, device_keys[required[r]]);
                goto out;
            }
        if (!(sections[i].seen & (1u << DK_BUS))) {  /* default: bus i+1 */
            d->domain = 0; d->bus = i + 1; d->device = 0;
        }
        if (d->memory_used > d->memory_total) {
            ps.line = sections[i].seen_line[DK_MEMUSED];
            rc = fail(&ps, NVML_ERROR_UNKNOWN, "memory_used %llu exceeds memory_total %llu in [device.%u]", d->memory_used, d->memory_total, i);
            goto out;
        }
        for (unsigned int j = 0; j < i; j++) {
            struct shim_device_info *e = &c->devices[j];
            if (strcasecmp(d->uuid, e->uuid) == 0) {
                ps.line = sections[i].seen_line[DK_UUID];
                rc = fail(&ps, NVML_ERROR_UNKNOWN, "uuid '%s' of [device.%u] is already used by [device.%u]", d->uuid, i, j);
                goto out;
            }
            if (d->domain == e->domain && d->bus == e->bus && d->device == e->device) {
                ps.line = sections[i].seen_line[DK_BUS] ? sections[i].seen_line[DK_BUS] : sections[i].line;
                rc = fail(&ps, NVML_ERROR_UNKNOWN, "pci_bus_id of [device.%u] is already used by [device.%u]", i, j);
                goto out;
            }
        }
    }
    c->device_count = present;
    ps.line = mode_line ? mode_line : (shim_line ? shim_line : 1);
    if (c->mode_line == 0) c->mode_line = ps.line;
    /* forward mode without 'real': the caller looks the real NVML up (shim_find_real) */
    if (c->mode == SHIM_MODE_VIRTUAL && present == 0) {
        rc = fail(&ps, NVML_ERROR_UNKNOWN, "virtual mode needs at least one [device.0] section");
        goto out;
    }
    if (!(shim_seen & (1u << SK_NVML))) {
        /* NVML reports "<CUDA major>.<driver version>", e.g. 12.570.86.15 */
        char tmp[NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE + 16];
        snprintf(tmp, sizeof tmp, "%d.%s", c->cuda_driver_version / 1000, c->driver_version);
        if (!copy_str(c->nvml_version, sizeof c->nvml_version, tmp))
            c->nvml_version[0] = '\0';
        if (c->nvml_version[0] == '\0') strcpy(c->nvml_version, "12");
    }
out:
    free(sections);
    free(text);
    return rc;
}
