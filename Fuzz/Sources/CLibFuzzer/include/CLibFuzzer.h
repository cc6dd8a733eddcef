// libFuzzer's driver entry point (compiler-rt, FuzzerInterface.h), so a Swift `main` can hand the
// command line to libFuzzer with the target it chose at run time.
#include <stddef.h>
#include <stdint.h>

typedef int (*RelaisFuzzerCallback)(const uint8_t *data, size_t size);
int LLVMFuzzerRunDriver(int *argc, char ***argv, RelaisFuzzerCallback callback);
