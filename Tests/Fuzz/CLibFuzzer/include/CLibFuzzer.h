// libFuzzer's entry for a program with its own main (LLVM's FuzzerInterface.h).
// Defined only when the program links libclang_rt.fuzzer_no_main, as
// scripts/fuzz's build does; FuzzDriver calls it only under RELAY_FUZZ.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
