# tests/data.cmake — the data/ suites (included by tests/CMakeLists.txt after
# find_package(doctest) and include(doctest)). Every test_data*.cpp joins one executable.
file(GLOB DASG_TEST_DATA_SRC CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/test_data*.cpp)
add_executable(test_data ${DASG_TEST_DATA_SRC})
target_link_libraries(test_data PRIVATE dasg_data dasg_test_main)
get_filename_component(DASG_TEST_SHARED_DATA "${PROJECT_SOURCE_DIR}/../shared/data" ABSOLUTE)
target_compile_definitions(test_data PRIVATE DASG_TEST_SHARED_DATA="${DASG_TEST_SHARED_DATA}")
doctest_discover_tests(test_data WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
