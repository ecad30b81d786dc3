// tests/test_data_util.hpp — helpers shared by the data/ suites: a scratch directory
// removed at the end of a test, file writing, and the path of the shared data files.
#pragma once
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>

#ifndef DASG_TEST_SHARED_DATA
#define DASG_TEST_SHARED_DATA "../shared/data"
#endif

namespace dasg_test {

// The error text to look for in CHECK_THROWS_WITH_AS (doctest::Contains takes no std::string).
inline doctest::Contains has(const std::string& s) { return doctest::Contains(s.c_str()); }

inline std::string shared_data(const std::string& rel) { return std::string(DASG_TEST_SHARED_DATA) + "/" + rel; }

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static std::atomic<int> n{0};
    path = std::filesystem::temp_directory_path() /
           ("dasg_test_data_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
  std::string str() const { return path.string(); }
};

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

}  // namespace dasg_test
