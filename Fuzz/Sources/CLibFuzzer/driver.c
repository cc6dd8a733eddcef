// Intentionally empty: the module only declares LLVMFuzzerRunDriver, which libFuzzer defines.
#include "CLibFuzzer.h"
