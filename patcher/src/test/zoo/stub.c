/* The stand-in shim the zoo installs (SONAME libnvidia-ml.so.1): just enough NVML for zoo.h. */
int nvmlInit_v2(void) { return 0; }
int nvmlShutdown(void) { return 0; }
