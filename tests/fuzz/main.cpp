// tests/fuzz/main.cpp — libFuzzer's entry point for one target, chosen at compile time
// (-DDASG_FUZZ_TARGET=shard, ...; tests/fuzz/CMakeLists.txt builds one executable per target).
#include "tests/fuzz/targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return dasg_fuzz::DASG_FUZZ_TARGET(data, size); }
