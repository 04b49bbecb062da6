// A cgo program that names the library in Go, as Ollama's generation C does: the Go string
// goes through C.CString to a C helper that calls dlopen(name, RTLD_NOW). ToolchainZooIT copies
// ../zoo.h beside this file before building (Go's build cache tracks the package directory only).
package main

/*
#cgo LDFLAGS: -ldl
#define _GNU_SOURCE
#include <stdlib.h>
#include "zoo.h"
static int zoo_try(const char *name) {
  void *h = dlopen(name, RTLD_NOW);
  if (!h) return -1;
  zoo_report(h, NULL);
  return 0;
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

var names = []string{"libnvidia-ml.so.1"}

func main() {
	for _, n := range names {
		c := C.CString(n)
		r := C.zoo_try(c)
		C.free(unsafe.Pointer(c))
		if r == 0 {
			return
		}
	}
	fmt.Println("loaded: none")
}
