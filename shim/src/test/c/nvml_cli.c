/*
 * nvml_cli: loads an NVML library with dlopen and runs one NVML call per command-line word,
 * printing one line per call: the numeric return code, then the outputs.
 *
 *   nvml_cli LIBRARY COMMAND...
 *
 * Commands (arguments after ':'):
 *   init init1 initflags:F shutdown errstr:N
 *   driver:LEN nvmlver:LEN cuda cuda2 count count1
 *   h:I h1:I huuid:S hbus:S hbus1:S      select a handle (the "current" one)
 *   hnull hbogus hsave hsame               NULL / foreign handle; remember / compare the current one
 *   name:LEN uuid:LEN serial:LEN vbios:LEN part:LEN pci3 pci2 pci1 index mem mem2[:HEXVERSION] cc brand
 *   null:WHAT   call with a NULL output pointer (WHAT: count driver cuda h huuid hbus name pci3 index mem mem2 cc brand)
 *   setenv:NAME=VALUE
 * CLI_GLOBAL=1 in the environment loads the library RTLD_GLOBAL.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int rc_t;
typedef void *dev_t_;

static void *lib;

static void *sym(const char *name) {
    void *p = dlsym(lib, name);
    if (p == NULL) {
        printf("MISSING-SYMBOL %s\n", name);
        exit(3);
    }
    return p;
}

#define CALL(type, name, args) (((type)sym(name))args)

static void print_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f) printf("\\x%02x", (unsigned char)*s);
        else putchar(*s);
    }
    putchar('"');
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: nvml_cli LIBRARY COMMAND...\n");
        return 2;
    }
    lib = dlopen(argv[1], RTLD_NOW | (getenv("CLI_GLOBAL") ? RTLD_GLOBAL : RTLD_LOCAL));
    if (lib == NULL) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 2;
    }
    static char bogus[64];
    dev_t_ cur = NULL, saved = NULL;
    for (int i = 2; i < argc; i++) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "%s", argv[i]);
        char *arg = strchr(cmd, ':');
        if (arg) *arg++ = '\0';
        unsigned int len = arg ? (unsigned int)strtoul(arg, NULL, 0) : 0;
        char buf[256];
        rc_t rc;
        memset(buf, 0, sizeof buf);

        if (!strcmp(cmd, "init")) printf("%d\n", CALL(rc_t (*)(void), "nvmlInit_v2", ()));
        else if (!strcmp(cmd, "init1")) printf("%d\n", CALL(rc_t (*)(void), "nvmlInit", ()));
        else if (!strcmp(cmd, "initflags")) printf("%d\n", CALL(rc_t (*)(unsigned), "nvmlInitWithFlags", (len)));
        else if (!strcmp(cmd, "shutdown")) printf("%d\n", CALL(rc_t (*)(void), "nvmlShutdown", ()));
        else if (!strcmp(cmd, "errstr")) {
            const char *s = CALL(const char *(*)(int), "nvmlErrorString", ((int)strtol(arg, NULL, 0)));
            print_str(s ? s : "(null)");
            putchar('\n');
        } else if (!strcmp(cmd, "driver") || !strcmp(cmd, "nvmlver")) {
            rc = CALL(rc_t (*)(char *, unsigned), !strcmp(cmd, "driver") ? "nvmlSystemGetDriverVersion" : "nvmlSystemGetNVMLVersion", (buf, len));
            printf("%d", rc);
            if (rc == 0) { putchar(' '); print_str(buf); }
            putchar('\n');
        } else if (!strcmp(cmd, "cuda") || !strcmp(cmd, "cuda2")) {
            int v = -1;
            rc = CALL(rc_t (*)(int *), !strcmp(cmd, "cuda") ? "nvmlSystemGetCudaDriverVersion" : "nvmlSystemGetCudaDriverVersion_v2", (&v));
            if (rc == 0) printf("%d %d\n", rc, v); else printf("%d\n", rc);
        } else if (!strcmp(cmd, "count") || !strcmp(cmd, "count1")) {
            unsigned v = 12345;
            rc = CALL(rc_t (*)(unsigned *), !strcmp(cmd, "count") ? "nvmlDeviceGetCount_v2" : "nvmlDeviceGetCount", (&v));
            if (rc == 0) printf("%d %u\n", rc, v); else printf("%d\n", rc);
        } else if (!strcmp(cmd, "h") || !strcmp(cmd, "h1")) {
            dev_t_ d = NULL;
            rc = CALL(rc_t (*)(unsigned, dev_t_ *), !strcmp(cmd, "h") ? "nvmlDeviceGetHandleByIndex_v2" : "nvmlDeviceGetHandleByIndex", (len, &d));
            if (rc == 0) cur = d;
            printf("%d\n", rc);
        } else if (!strcmp(cmd, "huuid") || !strcmp(cmd, "hbus") || !strcmp(cmd, "hbus1")) {
            dev_t_ d = NULL;
            const char *f = !strcmp(cmd, "huuid") ? "nvmlDeviceGetHandleByUUID"
                          : !strcmp(cmd, "hbus") ? "nvmlDeviceGetHandleByPciBusId_v2" : "nvmlDeviceGetHandleByPciBusId";
            rc = CALL(rc_t (*)(const char *, dev_t_ *), f, (arg ? arg : "", &d));
            if (rc == 0) cur = d;
            printf("%d\n", rc);
        } else if (!strcmp(cmd, "hnull")) { cur = NULL; printf("ok\n"); }
        else if (!strcmp(cmd, "hbogus")) { cur = (dev_t_)bogus; printf("ok\n"); }
        else if (!strcmp(cmd, "hsave")) { saved = cur; printf("ok\n"); }
        else if (!strcmp(cmd, "hsame")) { printf(cur == saved ? "same\n" : "differs\n"); }
        else if (!strcmp(cmd, "name") || !strcmp(cmd, "uuid") || !strcmp(cmd, "serial") || !strcmp(cmd, "vbios") || !strcmp(cmd, "part")) {
            const char *f = !strcmp(cmd, "name") ? "nvmlDeviceGetName" : !strcmp(cmd, "uuid") ? "nvmlDeviceGetUUID"
                          : !strcmp(cmd, "serial") ? "nvmlDeviceGetSerial" : !strcmp(cmd, "vbios") ? "nvmlDeviceGetVbiosVersion"
                          : "nvmlDeviceGetBoardPartNumber";
            rc = CALL(rc_t (*)(dev_t_, char *, unsigned), f, (cur, buf, len));
            printf("%d", rc);
            if (rc == 0) { putchar(' '); print_str(buf); }
            putchar('\n');
        } else if (!strcmp(cmd, "pci3")) {
            unsigned char raw[68];
            memset(raw, 0, sizeof raw);
            rc = CALL(rc_t (*)(dev_t_, void *), "nvmlDeviceGetPciInfo_v3", (cur, raw));
            printf("%d", rc);
            if (rc == 0) {
                unsigned u[5];
                memcpy(u, raw + 16, sizeof u);
                printf(" busId=");
                print_str((char *)raw + 36);
                printf(" busIdLegacy=");
                print_str((char *)raw);
                printf(" domain=%u bus=%u device=%u pciDeviceId=0x%08x pciSubSystemId=0x%08x", u[0], u[1], u[2], u[3], u[4]);
            }
            putchar('\n');
        } else if (!strcmp(cmd, "pci2") || !strcmp(cmd, "pci1")) {
            unsigned char raw[80];
            memset(raw, 0x5a, sizeof raw);
            rc = CALL(rc_t (*)(dev_t_, void *), !strcmp(cmd, "pci2") ? "nvmlDeviceGetPciInfo_v2" : "nvmlDeviceGetPciInfo", (cur, raw));
            printf("%d", rc);
            if (rc == 0) {
                unsigned u[9];
                memcpy(u, raw + 16, sizeof u);
                int untouched = 1;  /* bytes past the 52-byte legacy struct */
                for (int k = 52; k < 80; k++) untouched &= raw[k] == 0x5a;
                printf(" busId=");
                print_str((char *)raw);
                printf(" domain=%u bus=%u device=%u pciDeviceId=0x%08x pciSubSystemId=0x%08x reserved=%u,%u,%u,%u tail=%s",
                       u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], untouched ? "untouched" : "WRITTEN");
            }
            putchar('\n');
        } else if (!strcmp(cmd, "index")) {
            unsigned v = 12345;
            rc = CALL(rc_t (*)(dev_t_, unsigned *), "nvmlDeviceGetIndex", (cur, &v));
            if (rc == 0) printf("%d %u\n", rc, v); else printf("%d\n", rc);
        } else if (!strcmp(cmd, "mem")) {
            unsigned long long m[3] = { 1, 1, 1 };
            rc = CALL(rc_t (*)(dev_t_, void *), "nvmlDeviceGetMemoryInfo", (cur, m));
            if (rc == 0) printf("%d total=%llu free=%llu used=%llu\n", rc, m[0], m[1], m[2]);
            else printf("%d\n", rc);
        } else if (!strcmp(cmd, "mem2")) {
            struct { unsigned version; unsigned long long total, reserved, free, used; } m;
            memset(&m, 0, sizeof m);
            m.version = arg ? (unsigned)strtoul(arg, NULL, 16) : (unsigned)(sizeof m | 2u << 24);
            rc = CALL(rc_t (*)(dev_t_, void *), "nvmlDeviceGetMemoryInfo_v2", (cur, &m));
            if (rc == 0) printf("%d version=0x%08x total=%llu reserved=%llu free=%llu used=%llu\n", rc, m.version, m.total, m.reserved, m.free, m.used);
            else printf("%d\n", rc);
        } else if (!strcmp(cmd, "cc")) {
            int ma = -1, mi = -1;
            rc = CALL(rc_t (*)(dev_t_, int *, int *), "nvmlDeviceGetCudaComputeCapability", (cur, &ma, &mi));
            if (rc == 0) printf("%d %d.%d\n", rc, ma, mi); else printf("%d\n", rc);
        } else if (!strcmp(cmd, "brand")) {
            int b = -1;
            rc = CALL(rc_t (*)(dev_t_, int *), "nvmlDeviceGetBrand", (cur, &b));
            if (rc == 0) printf("%d %d\n", rc, b); else printf("%d\n", rc);
        } else if (!strcmp(cmd, "null")) {
            if (!strcmp(arg, "count")) rc = CALL(rc_t (*)(void *), "nvmlDeviceGetCount_v2", (NULL));
            else if (!strcmp(arg, "driver")) rc = CALL(rc_t (*)(void *, unsigned), "nvmlSystemGetDriverVersion", (NULL, 80));
            else if (!strcmp(arg, "cuda")) rc = CALL(rc_t (*)(void *), "nvmlSystemGetCudaDriverVersion", (NULL));
            else if (!strcmp(arg, "h")) rc = CALL(rc_t (*)(unsigned, void *), "nvmlDeviceGetHandleByIndex_v2", (0, NULL));
            else if (!strcmp(arg, "huuid")) rc = CALL(rc_t (*)(const char *, dev_t_ *), "nvmlDeviceGetHandleByUUID", (NULL, &cur));
            else if (!strcmp(arg, "hbus")) rc = CALL(rc_t (*)(const char *, dev_t_ *), "nvmlDeviceGetHandleByPciBusId_v2", (NULL, &cur));
            else if (!strcmp(arg, "name")) rc = CALL(rc_t (*)(dev_t_, char *, unsigned), "nvmlDeviceGetName", (cur, NULL, 96));
            else if (!strcmp(arg, "pci3")) rc = CALL(rc_t (*)(dev_t_, void *), "nvmlDeviceGetPciInfo_v3", (cur, NULL));
            else if (!strcmp(arg, "index")) rc = CALL(rc_t (*)(dev_t_, void *), "nvmlDeviceGetIndex", (cur, NULL));
            else if (!strcmp(arg, "mem")) rc = CALL(rc_t (*)(dev_t_, void *), "nvmlDeviceGetMemoryInfo", (cur, NULL));
            else if (!strcmp(arg, "mem2")) rc = CALL(rc_t (*)(dev_t_, void *), "nvmlDeviceGetMemoryInfo_v2", (cur, NULL));
            else if (!strcmp(arg, "cc")) { int x; rc = CALL(rc_t (*)(dev_t_, int *, int *), "nvmlDeviceGetCudaComputeCapability", (cur, &x, NULL)); }
            else if (!strcmp(arg, "brand")) rc = CALL(rc_t (*)(dev_t_, void *), "nvmlDeviceGetBrand", (cur, NULL));
            else { fprintf(stderr, "unknown null target %s\n", arg); return 2; }
            printf("%d\n", rc);
        } else if (!strcmp(cmd, "setenv")) {
            char *eq = strchr(arg, '=');
            if (eq == NULL) return 2;
            *eq = '\0';
            setenv(arg, eq + 1, 1);
            printf("ok\n");
        } else {
            fprintf(stderr, "unknown command %s\n", cmd);
            return 2;
        }
        fflush(stdout);
    }
    return 0;
}
