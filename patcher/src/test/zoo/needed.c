/* Linked against NVML: libnvidia-ml.so.1 is in DT_NEEDED, the loader opens it before main. */
#include "zoo.h"

int nvmlInit_v2(void);

int main(void) {
  printf("call: %d\n", nvmlInit_v2());
  /* The program's own handle: dlsym searches it and the libraries it needs, in load order. */
  return zoo_report(dlopen(NULL, RTLD_NOW), NULL);
}
