# tests/model.cmake — the model/ suites (included by tests/CMakeLists.txt after
# find_package(doctest) and include(doctest)). Every test_model*.cpp joins one executable.
# dasg_data: the forward-dump suite reads shards as `dasg forward` does; dasg_train: the invariants
# set the evaluator's statistics with train/'s RouterState.
file(GLOB DASG_TEST_MODEL_SRC CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/test_model*.cpp)
add_executable(test_model ${DASG_TEST_MODEL_SRC})
target_link_libraries(test_model PRIVATE dasg_model dasg_data dasg_train dasg_test_main)
doctest_discover_tests(test_model WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
# The fuzz targets (tests/fuzz/fuzz_*.cpp) replay their committed inputs in test_model too
# (test_model_fuzz_inputs.cpp); libFuzzer builds them separately (tests/fuzz.sh).
file(GLOB DASG_FUZZ_TARGET_SRC CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz_*.cpp)
target_sources(test_model PRIVATE ${DASG_FUZZ_TARGET_SRC})
