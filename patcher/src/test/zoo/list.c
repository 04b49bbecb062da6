/* A list of paths tried in order, as Ollama's ggml (generation B) does. */
#include "zoo.h"

static const char *const paths[] = {"/usr/lib/wsl/lib/libnvidia-ml.so.1", "libnvidia-ml.so.1"};

int main(void) {
  void *h = NULL;
  const char *why = NULL;
  for (unsigned i = 0; i < sizeof paths / sizeof paths[0] && !h; i++) {
    h = dlopen(paths[i], RTLD_NOW);
    if (!h) why = dlerror();
  }
  return zoo_report(h, why);
}
