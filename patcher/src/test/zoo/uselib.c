/* bin/ollama of the library cases: rpath $ORIGIN/../lib/ollama finds lib/ollama/libzoo-opener.so. */
#include "zoo.h"

void *zoo_open(void);
extern const char *zoo_why;

int main(void) {
  void *h = zoo_open();
  return zoo_report(h, zoo_why ? zoo_why : (h ? NULL : dlerror()));
}
