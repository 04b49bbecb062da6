/* Shared by the toolchain-zoo programs (ToolchainZooIT): after the program's own dlopen (or the
 * loader's DT_NEEDED), print which file answers for NVML, as "loaded: <real path>" or
 * "loaded: none <why>". The test compares the path with the shim it installed. */
#ifndef ZOO_H
#define ZOO_H
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

typedef int (*zoo_init_fn)(void);

/* The file that defines nvmlInit_v2 in handle h (or in the process when h is RTLD_DEFAULT). */
static int zoo_report(void *h, const char *why) {
  Dl_info info;
  char real[PATH_MAX];
  void *sym;
  if (!h) {
    printf("loaded: none %s\n", why ? why : "");
    fflush(stdout);
    return 0;
  }
  sym = dlsym(h, "nvmlInit_v2");
  if (!sym || !dladdr(sym, &info) || !info.dli_fname) {
    printf("loaded: broken (no nvmlInit_v2)\n");
    fflush(stdout);
    return 0;
  }
  printf("init: %d\n", ((zoo_init_fn)sym)());
  printf("loaded: %s\n", realpath(info.dli_fname, real) ? real : info.dli_fname);
  fflush(stdout); /* a Go program exits without flushing C's stdio */
  return 0;
}
#endif
