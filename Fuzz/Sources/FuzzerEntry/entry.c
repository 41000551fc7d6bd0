// Why this file exists: on Linux, SwiftPM compiles an executable target with
// `-entry-point-function-name CloseOrderFuzzer_main` (V3AnswerFuzzer_main for the v3 harness) and links it with
// `--defsym main=CloseOrderFuzzer_main`, so that tests can link the executable's code.
// Under -parse-as-library (what libFuzzer needs, so that the Swift module emits no main of its
// own) nothing defines CloseOrderFuzzer_main and the link fails. We define it here and hand
// control to libFuzzer's documented driver entry, which is exactly what libFuzzer's own main()
// does. Built any other way (plain swiftc, no renaming), this function is unused and libFuzzer's
// main() runs as usual.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);  // the Swift harness (@_cdecl)
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

int CloseOrderFuzzer_main(int argc, char **argv) {
    return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput);
}

// The same for the v3 answer harness (Sources/V3AnswerFuzzer): each executable links this file
// and uses only its own entry; the other is unused.
int V3AnswerFuzzer_main(int argc, char **argv) {
    return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput);
}
