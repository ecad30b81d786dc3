# The CUDA emulator's own tests (DESIGN.md §10), included by tests/CMakeLists.txt when
# DASG_CUDA_EMULATE is on. Under ThreadSanitizer the block reduction doubles as racecheck.
add_executable(test_cuda_emulator ${CMAKE_CURRENT_LIST_DIR}/test_cuda_emulator.cpp)
dasg_cuda_sources(test_cuda_emulator ${CMAKE_CURRENT_LIST_DIR}/cuda_emulator_kernels.cu)
target_link_libraries(test_cuda_emulator PRIVATE dasg_cuda_emulator dasg_options doctest::doctest)
include(doctest)
doctest_discover_tests(test_cuda_emulator)

# The diagnostic path on a deliberate overrun (tests/diag_overrun_*): the kernel overruns only in
# this executable (-DDASG_TEST_OVERRUN=1). Its case checks the messages without and with sync
# mode; the second test runs tests/gpu_rerun.sh on it — the rerun step of tests/gpu.sh — and
# checks that the sync-mode log names the kernel.
add_executable(test_diag_overrun ${CMAKE_CURRENT_LIST_DIR}/diag_overrun_test.cpp)
dasg_cuda_sources(test_diag_overrun ${CMAKE_CURRENT_LIST_DIR}/diag_overrun_kernel.cu)
target_compile_definitions(test_diag_overrun PRIVATE DASG_TEST_OVERRUN=1)
target_link_libraries(test_diag_overrun PRIVATE dasg_test_main dasg_ops)
doctest_discover_tests(test_diag_overrun)
add_test(NAME "emulator: tests/gpu_rerun.sh reruns a failing case in sync mode and names the kernel"
         COMMAND bash ${PROJECT_SOURCE_DIR}/tests/gpu_rerun.sh --expect overrun_iota_kernel $<TARGET_FILE:test_diag_overrun>
                 ${CMAKE_CURRENT_BINARY_DIR}/gpu_rerun_selftest
                 "emulator: diagnostics — a kernel writing past its buffer is reported, by name in sync mode")
