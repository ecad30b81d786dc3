// tests/fuzz/main.cpp — libFuzzer's entry point for one target, chosen at compile time
// (-DDASG_FUZZ_TARGET=shard, ...; tests/fuzz/CMakeLists.txt builds one executable per target).
#include "tests/fuzz/targets.hpp"

// One empty input before fuzzing starts, so one-time set-up (the BPE target loads GPT-2's
// vocabulary: seconds under ASan) is not charged to the first input's timeout.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  dasg_fuzz::DASG_FUZZ_TARGET(nullptr, 0);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return dasg_fuzz::DASG_FUZZ_TARGET(data, size); }
