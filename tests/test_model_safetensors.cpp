// Suite "model": safetensors write/read round trip, the exact byte layout, and the reader's
// errors on malformed files (each naming the file and the fault).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "model/safetensors.hpp"
#include "tests/helpers.hpp"

using namespace dasg;

namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("dasg_test_" + std::to_string(::getpid()) + "_" + name)).string();
}

// A file made of an 8-byte length, the given header text and data bytes.
void write_raw(const std::string& path, const std::string& header, const std::string& data, int64_t len = -1) {
  std::ofstream out(path, std::ios::binary);
  uint64_t n = len < 0 ? header.size() : (uint64_t)len;
  for (int i = 0; i < 8; ++i) out.put((char)(n >> (8 * i)));
  out << header << data;
}

}  // namespace

TEST_SUITE("model") {
  TEST_CASE("safetensors: round trip of f32, f64, i32, scalar and empty tensors with metadata") {
    Generator gen(1);
    Tensor a = Tensor::randn({3, 4}, gen);
    Tensor b = Tensor::randn({2}, gen, 0, 1, DType::f64);
    Tensor c = Tensor::from_vector<int32_t>({1, -2, 3}, {3});
    Tensor s = Tensor::scalar(2.5);
    Tensor e = Tensor::zeros({0, 5});
    std::string path = temp_path("rt.safetensors");
    write_safetensors(path, {{"a", a}, {"b", b}, {"c", c}, {"s", s}, {"e", e}}, {{"config", "{\"x\": 1}"}, {"deep_active", "true"}});
    SafetensorsFile f = read_safetensors(path);
    REQUIRE(f.tensors.size() == 5);
    CHECK(f.tensors[0].first == "a");
    CHECK(f.tensors[4].first == "e");
    CHECK(f.at("a").to_vector<float>() == a.to_vector<float>());
    CHECK(f.at("b").to_vector<double>() == b.to_vector<double>());
    CHECK(f.at("c").to_vector<int32_t>() == c.to_vector<int32_t>());
    CHECK(f.at("s").shape().empty());
    CHECK(f.at("s").item() == 2.5);
    CHECK(f.at("e").shape() == Shape{0, 5});
    CHECK(f.metadata.at("config") == "{\"x\": 1}");
    CHECK(f.metadata.at("deep_active") == "true");
    CHECK_ERROR_CONTAINS(f.at("zz"), "zz");
    // The header is padded with spaces to a multiple of 8 bytes, data follow back to back.
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= (uint64_t)(unsigned char)bytes[i] << (8 * i);
    CHECK(n % 8 == 0);
    CHECK(bytes.size() == 8 + n + 12 * 4 + 2 * 8 + 3 * 4 + 4);
    std::remove(path.c_str());
  }

  TEST_CASE("safetensors: malformed files give errors naming the file and the fault") {
    std::string path = temp_path("bad.safetensors");
    const std::string ok = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    const std::string data(8, '\0');
    {
      std::ofstream out(path, std::ios::binary);
      out << "abc";
    }
    CHECK_ERROR_CONTAINS(read_safetensors(path), path.c_str(), "truncated");
    write_raw(path, ok, data, 1000);
    CHECK_ERROR_CONTAINS(read_safetensors(path), path.c_str(), "header length 1000", "beyond");
    write_raw(path, "{\"t\": [", data);
    CHECK_ERROR_CONTAINS(read_safetensors(path), path.c_str(), "malformed JSON");
    write_raw(path, R"({"t":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}})", data);
    CHECK_ERROR_CONTAINS(read_safetensors(path), path.c_str(), "unknown dtype", "F16");
    write_raw(path, R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data);
    CHECK_ERROR_CONTAINS(read_safetensors(path), path.c_str(), "'t'", "needs 12 bytes");
    write_raw(path, R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", data);
    CHECK_ERROR_CONTAINS(read_safetensors(path), path.c_str(), "out of range");
    write_raw(path, R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"u":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data);
    CHECK_ERROR_CONTAINS(read_safetensors(path), path.c_str(), "overlaps");
    write_raw(path, R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data);
    CHECK_ERROR_CONTAINS(read_safetensors(path), path.c_str(), "gap");
    write_raw(path, R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", data);
    CHECK_ERROR_CONTAINS(read_safetensors(path), path.c_str(), "cover");
    write_raw(path, R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data);
    CHECK_ERROR_CONTAINS(read_safetensors(path), path.c_str(), "shape");
    write_raw(path, R"({"t":{"dtype":"F32","shape":[2]}})", data);
    CHECK_ERROR_CONTAINS(read_safetensors(path), path.c_str(), "data_offsets");
    write_raw(path, R"({"__metadata__":{"a":1},"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data);
    CHECK_ERROR_CONTAINS(read_safetensors(path), path.c_str(), "__metadata__");
    write_raw(path, ok, data);
    CHECK(read_safetensors(path).at("t").numel() == 2);
    CHECK_ERROR_CONTAINS(read_safetensors(path + ".missing"), "cannot open");
    std::remove(path.c_str());
  }
}

// Hostile headers (issue 14): deep nesting, shapes whose element count overflows, typed metadata,
// non-finite values. Each file is written by the test.
TEST_SUITE("model") {
  TEST_CASE("safetensors: a header nested 200,000 levels deep is an error naming the file") {
    std::string path = temp_path("deep.safetensors");
    const std::string deep = std::string(200000, '[') + std::string(200000, ']');
    const std::string data(8, '\0');
    write_raw(path, "{\"t\":" + deep + "}", data);
    CHECK_ERROR_CONTAINS(read_safetensors(path), path.c_str(), "nested deeper than 256 levels");
    write_raw(path, R"({"t":{"dtype":)" + deep + R"(,"shape":[2],"data_offsets":[0,8]}})", data);
    CHECK_ERROR_CONTAINS(read_safetensors(path), path.c_str(), "nested deeper than 256 levels");
    write_raw(path, R"({"t":{"dtype":[[[1]]],"shape":[2],"data_offsets":[0,8]}})", data);
    CHECK_ERROR_CONTAINS(read_safetensors(path), path.c_str(), "'t'", "dtype [[[1]]] is not a string");
    std::remove(path.c_str());
  }

  TEST_CASE("safetensors: shapes whose element count overflows name the file and tensor") {
    std::string path = temp_path("shape.safetensors");
    const std::string data(8, '\0');
    write_raw(path, R"({"t":{"dtype":"F32","shape":[9223372036854775808,2],"data_offsets":[0,8]}})", data);
    CHECK_ERROR_CONTAINS(read_safetensors(path), path.c_str(), "tensor 't'", "element count overflows");
    write_raw(path, R"({"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", data);
    CHECK_ERROR_CONTAINS(read_safetensors(path), path.c_str(), "tensor 't'", "element count overflows");
    write_raw(path, R"({"t":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]}})", data);
    CHECK_ERROR_CONTAINS(read_safetensors(path), path.c_str(), "tensor 't'", "byte count overflows");
    write_raw(path, R"({"t":{"dtype":"F32","shape":[0,4294967296],"data_offsets":[0,0]},"u":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
              data);
    CHECK(read_safetensors(path).at("t").numel() == 0);
    write_raw(path, R"({"t":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", data);
    CHECK_ERROR_CONTAINS(read_safetensors(path), path.c_str(), "non-integer or negative size");
    std::remove(path.c_str());
  }

  TEST_CASE("safetensors: metadata flags and integers are typed; non-finite values are found") {
    std::string path = temp_path("meta.safetensors");
    write_safetensors(path, {{"w", Tensor::full({3}, 1.0)}}, {{"deep_active", "yes"}, {"steps", "12x"}, {"ok", "true"}});
    SafetensorsFile f = read_safetensors(path);
    CHECK(f.path == path);
    CHECK(f.metadata_flag("ok", false));
    CHECK(f.metadata_flag("absent", true));
    CHECK_ERROR_CONTAINS(f.metadata_flag("deep_active", true), path.c_str(), "'deep_active' is \"yes\"",
                         "expected \"true\" or \"false\"");
    CHECK_ERROR_CONTAINS(f.metadata_int("steps", 0, 100), path.c_str(), "'steps'", "\"12x\" is not an integer");
    CHECK_ERROR_CONTAINS(f.metadata_int("nothing", 0, 100), path.c_str(), "no 'nothing'");
    CHECK_ERROR_CONTAINS(f.at("nope"), path.c_str(), "no tensor named 'nope'");
    CHECK_NOTHROW(check_all_finite(f.tensors, path));
    std::vector<float> v = {1, NAN, 2};
    CHECK_ERROR_CONTAINS(check_all_finite({{"w", Tensor::from_vector(v, {3})}}, "x.safetensors"),
                         "x.safetensors: tensor 'w' holds a non-finite value (nan) at element 1");
    std::remove(path.c_str());
  }
}
