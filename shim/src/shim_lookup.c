/*
 * Finding the vendor's NVML without finding the shim: the loader's cache (/etc/ld.so.cache), then
 * the usual driver directories. Every candidate is opened and checked before it is named: a regular
 * ELF file of this shim's own class and machine, not this shim's file (same device and inode as the
 * object dladdr reports for this code), and not another copy of an ollama-patch shim (its
 * "ollama-patch" ELF note, see nvml_shim.c). A plain dlopen("libnvidia-ml.so.1") cannot be used: the
 * shim has that SONAME, so glibc would hand back the shim itself.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim_internal.h"

#define NVML_SONAME "libnvidia-ml.so.1"

#if defined(__x86_64__)
#define MULTIARCH "x86_64-linux-gnu"
#define OWN_MACHINE EM_X86_64
#define CACHE_REQUIRED 0x0300u   /* glibc ldconfig.h: FLAG_X8664_LIB64 */
#elif defined(__aarch64__)
#define MULTIARCH "aarch64-linux-gnu"
#define OWN_MACHINE EM_AARCH64
#define CACHE_REQUIRED 0x0a00u   /* glibc ldconfig.h: FLAG_AARCH64_LIB64 */
#else
#error "the shim is built for x86_64 and aarch64 only"
#endif
#define CACHE_ELF_LIBC6 0x0003u  /* glibc ldconfig.h: FLAG_ELF_LIBC6, under FLAG_TYPE_MASK 0x00ff */

/* The usual places of the driver's libnvidia-ml.so.1 (distribution packages, NVIDIA's .run
 * installer, WSL, the NVIDIA container toolkit), after the loader's cache. */
static const char *const driver_dirs[] = {
    "/usr/lib/" MULTIARCH, "/lib/" MULTIARCH, "/usr/lib64", "/lib64", "/usr/lib",
    "/usr/lib/wsl/lib", "/usr/local/nvidia/lib64", "/usr/local/nvidia/lib",
};

int shim_fstat(int fd, struct stat *st) {
    /* The kernel's struct stat is glibc's on x86_64 and aarch64 (both use the kernel layout). */
    return (int)syscall(SYS_fstat, fd, st);
}

void shim_escape(const char *s, char *out, size_t outlen) {
    size_t n = 0;
    if (outlen == 0) return;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        char tmp[5];
        size_t k;
        if (c < 0x20 || c >= 0x7f) k = (size_t)snprintf(tmp, sizeof tmp, "\\x%02x", c);
        else if (c == '\\') { tmp[0] = '\\'; tmp[1] = '\\'; k = 2; }
        else { tmp[0] = (char)c; k = 1; }
        if (n + k >= outlen) break;
        memcpy(out + n, tmp, k);
        n += k;
    }
    out[n] = '\0';
}

/* Device and inode of the file this shim was loaded from. */
static int self_identity(dev_t *dev, ino_t *ino) {
    Dl_info info;
    if (dladdr((void *)&shim_find_real, &info) == 0 || info.dli_fname == NULL || info.dli_fname[0] == '\0') return 0;
    int fd = open(info.dli_fname, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return 0;
    struct stat st;
    int ok = shim_fstat(fd, &st) == 0;
    close(fd);
    if (ok) { *dev = st.st_dev; *ino = st.st_ino; }
    return ok;
}

static int read_at(int fd, void *buf, size_t n, off_t at) {
    size_t done = 0;
    while (done < n) {
        ssize_t k = pread(fd, (char *)buf + done, n - done, at + (off_t)done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return 0;
        done += (size_t)k;
    }
    return 1;
}

/* 1 when the open file is an ELF shared object this process could load in place of NVML: our
 * class and machine, and no "ollama-patch" note (ELF gABI, "Note Section": namesz, descsz, type,
 * then name and descriptor, each padded to 4 bytes). */
static int usable_library(int fd, off_t size) {
    ElfW(Ehdr) eh;
    if (!read_at(fd, &eh, sizeof eh, 0)) return 0;
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_type != ET_DYN || eh.e_machine != OWN_MACHINE)
        return 0;
    if (eh.e_phentsize != sizeof(ElfW(Phdr)) || eh.e_phnum == 0 || eh.e_phnum > 256) return 0;
    for (unsigned int i = 0; i < eh.e_phnum; i++) {
        ElfW(Phdr) ph;
        if (!read_at(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (ElfW(Off))i * sizeof ph))) return 0;
        if (ph.p_type != PT_NOTE) continue;
        if (ph.p_filesz > 65536 || ph.p_offset > (ElfW(Off))size || ph.p_filesz > (ElfW(Off))size - ph.p_offset) continue;
        unsigned char *notes = malloc(ph.p_filesz ? ph.p_filesz : 1);
        if (notes == NULL) return 0;
        if (!read_at(fd, notes, ph.p_filesz, (off_t)ph.p_offset)) { free(notes); return 0; }
        int shim = 0;
        size_t at = 0;
        while (at + 12 <= ph.p_filesz) {
            uint32_t namesz, descsz;
            memcpy(&namesz, notes + at, 4);
            memcpy(&descsz, notes + at + 4, 4);
            size_t name_at = at + 12, name_len = ((size_t)namesz + 3) & ~(size_t)3;
            size_t desc_len = ((size_t)descsz + 3) & ~(size_t)3;
            if (namesz > ph.p_filesz || descsz > ph.p_filesz || name_at + name_len + desc_len > ph.p_filesz) break;
            if (namesz == sizeof SHIM_NOTE_NAME && memcmp(notes + name_at, SHIM_NOTE_NAME, sizeof SHIM_NOTE_NAME) == 0) {
                shim = 1;  /* an ollama-patch shim: forwarding to it could loop back here */
                break;
            }
            at = name_at + name_len + desc_len;
        }
        free(notes);
        if (shim) return 0;
    }
    return 1;
}

/* Opens and checks one candidate; copies it to out when it is the vendor's library. */
static int try_candidate(const char *path, int have_self, dev_t self_dev, ino_t self_ino, char *out, size_t outlen) {
    if (strlen(path) >= outlen) return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return 0;
    struct stat st;
    int ok = shim_fstat(fd, &st) == 0 && S_ISREG(st.st_mode)
          && !(have_self && st.st_dev == self_dev && st.st_ino == self_ino)
          && usable_library(fd, st.st_size);
    close(fd);
    if (ok) memcpy(out, path, strlen(path) + 1);
    return ok;
}

static int join(char *out, size_t outlen, const char *root, const char *path) {
    int n = snprintf(out, outlen, "%s%s", root, path);
    return n > 0 && (size_t)n < outlen;
}

/* The cache's candidates, in the cache's order (which is the loader's order). Format, from glibc's
 * sysdeps/generic/dl-cache.h: an optional old-format part ("ld.so-1.7.0", nlibs, nlibs * 12-byte
 * entries), then "glibc-ld.so.cache" "1.1", nlibs (u32), len_strings (u32), flags (u8), 3 unused,
 * extension_offset (u32), 3 unused u32 (48 bytes), then nlibs entries of 24 bytes: flags (i32),
 * key, value (u32 string offsets from the start of the new-format part), osversion (u32), hwcap (u64). */
static int from_cache(const char *root, int have_self, dev_t sd, ino_t si, char *out, size_t outlen) {
    char cache_path[SHIM_PATH_MAX];
    if (!join(cache_path, sizeof cache_path, root, "/etc/ld.so.cache")) return 0;
    int fd = open(cache_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return 0;
    struct stat st;
    unsigned char *buf = NULL;
    int found = 0;
    if (shim_fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 48 || st.st_size > 64 * 1024 * 1024) goto out;
    size_t size = (size_t)st.st_size;
    buf = malloc(size + 1);
    if (buf == NULL || !read_at(fd, buf, size, 0)) goto out;
    buf[size] = '\0';  /* every string read below ends inside the buffer */

    size_t base = 0;
    static const char old_magic[] = "ld.so-1.7.0", new_magic[] = "glibc-ld.so.cache1.1";
    if (memcmp(buf, old_magic, sizeof old_magic - 1) == 0) {
        uint32_t old_n;
        memcpy(&old_n, buf + 12, 4);  /* after the 11-byte magic, aligned to 4 */
        base = 16 + (size_t)old_n * 12;
        base = (base + 7) & ~(size_t)7;  /* the new part follows, aligned like its 8-byte fields */
        if (old_n > size / 12 || base + 48 > size) goto out;
    }
    if (memcmp(buf + base, new_magic, sizeof new_magic - 1) != 0) goto out;
    uint32_t nlibs;
    memcpy(&nlibs, buf + base + 20, 4);
    if (nlibs > (size - base - 48) / 24) goto out;
    for (uint32_t i = 0; i < nlibs && !found; i++) {
        const unsigned char *e = buf + base + 48 + (size_t)i * 24;
        int32_t flags;
        uint32_t key, value;
        memcpy(&flags, e, 4);
        memcpy(&key, e + 4, 4);
        memcpy(&value, e + 8, 4);
        if (((uint32_t)flags & 0xffu) != CACHE_ELF_LIBC6 || ((uint32_t)flags & 0xff00u) != CACHE_REQUIRED) continue;
        if ((size_t)key >= size - base || (size_t)value >= size - base) continue;
        if (strcmp((const char *)buf + base + key, NVML_SONAME) != 0) continue;
        char path[SHIM_PATH_MAX];
        if (join(path, sizeof path, root, (const char *)buf + base + value))
            found = try_candidate(path, have_self, sd, si, out, outlen);
    }
out:
    free(buf);
    close(fd);
    return found;
}

int shim_find_real(const char *root, char *out, size_t outlen, char *looked, size_t lookedlen) {
    dev_t sd = 0;
    ino_t si = 0;
    int have_self = self_identity(&sd, &si);
    if (from_cache(root, have_self, sd, si, out, outlen)) return 1;
    for (size_t i = 0; i < sizeof driver_dirs / sizeof driver_dirs[0]; i++) {
        char path[SHIM_PATH_MAX];
        int n = snprintf(path, sizeof path, "%s%s/" NVML_SONAME, root, driver_dirs[i]);
        if (n > 0 && (size_t)n < sizeof path && try_candidate(path, have_self, sd, si, out, outlen)) return 1;
    }
    size_t n = (size_t)snprintf(looked, lookedlen, "%s/etc/ld.so.cache", root);
    for (size_t i = 0; i < sizeof driver_dirs / sizeof driver_dirs[0] && n < lookedlen; i++)
        n += (size_t)snprintf(looked + n, lookedlen - n, ", %s%s", root, driver_dirs[i]);
    return 0;
}
