/* A library that opens NVML itself (lib/ollama/libzoo-opener.so); the program in bin/ only calls it.
 * dlopen is not the last call here, so the library's own code is dlopen's caller. */
#include "zoo.h"

const char *zoo_why;

void *zoo_open(void) {
  void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW);
  if (!h) zoo_why = dlerror();
  return h;
}
