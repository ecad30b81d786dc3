// The doctest main shared by every test executable. It applies DASG_NUM_THREADS first: the
// engine sets its thread count in a static initializer of engine/parallel.cpp, which a static
// link drops unless something calls into that file.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "engine/parallel.hpp"

int main(int argc, char** argv) {
  (void)dasg::num_threads();
  return doctest::Context(argc, argv).run();
}
