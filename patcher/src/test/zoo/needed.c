/* Linked against NVML: libnvidia-ml.so.1 is in DT_NEEDED, the loader opens it before main. */
#include "zoo.h"

int nvmlInit_v2(void);

int main(void) {
  printf("call: %d\n", nvmlInit_v2());
  return zoo_report(RTLD_DEFAULT, NULL);
}
