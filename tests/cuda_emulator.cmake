# The CUDA emulator's own tests (DESIGN.md §10), included by tests/CMakeLists.txt when
# DASG_CUDA_EMULATE is on. Under ThreadSanitizer the block reduction doubles as racecheck.
add_executable(test_cuda_emulator ${CMAKE_CURRENT_LIST_DIR}/test_cuda_emulator.cpp)
dasg_cuda_sources(test_cuda_emulator ${CMAKE_CURRENT_LIST_DIR}/cuda_emulator_kernels.cu)
target_link_libraries(test_cuda_emulator PRIVATE dasg_cuda_emulator dasg_options doctest::doctest)
include(doctest)
doctest_discover_tests(test_cuda_emulator)
