/* One dlopen of the library's name, as Ollama's generation C helper does. */
#include "zoo.h"

int main(void) {
  void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW);
  return zoo_report(h, h ? NULL : dlerror());
}
