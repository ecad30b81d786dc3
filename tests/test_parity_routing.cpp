// Suite "parity", the routing ops (issue 12) on CUDA(0) against the CPU: compare (every relation,
// tensor and scalar forms, b broadcasting, NaNs; bit-identical 0/1 masks), where (forward and the
// gradients of a and b, with broadcasting) and group_by_key (bit-identical i32 outputs and host
// counts on random keys with −1s, sizes 1/3/17/129/5000, with and without visit and capacity,
// and the same error text from the device-side validation).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "ops/compare.hpp"
#include "ops/dispatch.hpp"
#include "tests/helpers.hpp"
#include "tests/parity.hpp"

using namespace dasg;
using test::random_keys;
using test::random_permutation;
using test::check_parity;
using test::rand32;
using Inputs = std::vector<Tensor>;

namespace {

const Device kGPU = Device::cuda(0);

// Exact (bitwise) equality of a device result with the CPU result, f32.
void check_exact(const Tensor& got, const Tensor& want) {
  REQUIRE(got.device() == kGPU);
  CHECK(got.shape() == want.shape());
  CHECK(got.to(kCPU).to_vector<float>() == want.to_vector<float>());
}

// Uniform values with a few NaNs and exact ties at 0 (every 7th element 0, every 11th NaN).
Tensor spiky32(const Shape& s, Generator& g) {
  std::vector<float> v = Tensor::rand(s, g, -1, 1).to_vector<float>();
  for (size_t i = 0; i < v.size(); ++i) {
    if (i % 7 == 3) v[i] = 0;
    if (i % 11 == 5) v[i] = std::numeric_limits<float>::quiet_NaN();
  }
  return Tensor::from_vector<float>(v, s);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const std::vector<Shape> kShapes{{1}, {3}, {17, 3}, {3, 129}, {2, 3, 17}, {5000}, {2, 3, 1, 5, 7}};

}  // namespace

TEST_SUITE("parity") {
  TEST_CASE("parity:compare") {
    Generator g(131);
    for (const Shape& s : kShapes) {
      INFO("shape " << shape_str(s));
      Tensor a = spiky32(s, g), b = spiky32(s, g);
      Shape row(s.end() - 1, s.end());  // b broadcasting along the last dim
      Tensor br = spiky32(row, g);
      for (Compare op : {Compare::less, Compare::less_equal, Compare::greater, Compare::greater_equal}) {
        check_exact(compare(a.to(kGPU), b.to(kGPU), op), compare(a, b, op));
        check_exact(compare(a.to(kGPU), br.to(kGPU), op), compare(a, br, op));
        check_exact(compare(a.to(kGPU), 0.0, op), compare(a, 0.0, op));
        check_exact(compare(a.to(kGPU), 0.1, op), compare(a, 0.1, op));
      }
      Tensor a64 = a.to(DType::f64);
      Tensor got = greater_equal(a64.to(kGPU), 0.25), want = greater_equal(a64, 0.25);
      CHECK(got.to(kCPU).to_vector<double>() == want.to_vector<double>());
    }
  }

  TEST_CASE("parity:where") {
    Generator g(132);
    for (const Shape& s : kShapes) {
      INFO("shape " << shape_str(s));
      Tensor m = greater(Tensor::rand(s, g, -1, 1), 0.0);
      Shape last(s.end() - 1, s.end()), lead = s;
      lead.back() = 1;
      // same shapes; b broadcast along leading dims; a broadcast (size-1 last dim); a scalar b.
      check_parity([](const Inputs& in) { return where(in[0], in[1], in[2]); }, {m, rand32(s, g), rand32(s, g)});
      check_parity([](const Inputs& in) { return where(in[0], in[1], in[2]); }, {m, rand32(s, g), rand32(last, g)});
      check_parity([](const Inputs& in) { return where(in[0], in[1], in[2]); }, {m, rand32(lead, g), rand32(s, g)});
      check_parity([](const Inputs& in) { return where(in[0], in[1], -1e9); }, {m, rand32(s, g)});
      // The mask broadcasting too (a per-row mask).
      Tensor mrow = greater(Tensor::rand(lead, g, -1, 1), 0.0);
      check_parity([](const Inputs& in) { return where(in[0], in[1], in[2]); }, {mrow, rand32(s, g), rand32(last, g)});
    }
  }

  TEST_CASE("parity:group_by_key") {
    Generator g(133);
    for (int64_t R : {1, 3, 17, 129, 5000})
      for (auto [k, E] : {std::pair<int64_t, int64_t>{1, 1}, {2, 4}, {3, 17}, {2, 300}})
        for (bool use_visit : {false, true})
          for (int64_t capacity : {-1, 0, 2, 40}) {
            INFO("R = " << R << ", k = " << k << ", E = " << E << ", visit " << use_visit << ", capacity " << capacity);
            Tensor keys = Tensor::from_vector<int32_t>(random_keys(R * k, E, g), {R, k});
            Tensor visit = use_visit ? Tensor::from_vector<int32_t>(random_permutation(R, g), {R}) : Tensor();
            KeyGroups want = group_by_key(keys, E, visit, capacity);
            KeyGroups got = group_by_key(keys.to(kGPU), E, use_visit ? visit.to(kGPU) : Tensor(), capacity);
            REQUIRE(got.rows.device() == kGPU);
            REQUIRE(got.counts.device() == kGPU);
            CHECK(got.rows.to(kCPU).to_vector<int32_t>() == want.rows.to_vector<int32_t>());
            CHECK(got.slots.to(kCPU).to_vector<int32_t>() == want.slots.to_vector<int32_t>());
            CHECK(got.counts.to(kCPU).to_vector<int32_t>() == want.counts.to_vector<int32_t>());
            CHECK(got.kept.to(kCPU).to_vector<int32_t>() == want.kept.to_vector<int32_t>());
            CHECK(got.counts_host == want.counts_host);
            CHECK(got.kept_host == want.kept_host);
          }
  }

  TEST_CASE("parity:group_by_key errors (device-side validation)") {
    Generator g(134);
    std::vector<int32_t> kv = random_keys(600, 5, g);
    kv[401] = 7;  // key ≥ n_keys at [200, 1] (and a later one: the first is reported)
    kv[555] = 9;
    Tensor keys = Tensor::from_vector<int32_t>(kv, {300, 2});
    std::vector<int32_t> perm = random_permutation(300, g);
    std::vector<int32_t> out_of_range = perm, repeated = perm;
    out_of_range[123] = 300;
    out_of_range[250] = -4;
    *std::find(repeated.begin(), repeated.end(), 41) = 17;  // row 17 twice, row 41 never
    for (const std::vector<int32_t>& v : {perm, out_of_range, repeated}) {
      Tensor visit = Tensor::from_vector<int32_t>(v, {300});
      const std::string want = error_of([&] { group_by_key(keys, 5, visit, 3); });
      const std::string got = error_of([&] { group_by_key(keys.to(kGPU), 5, visit.to(kGPU), 3); });
      CHECK(!want.empty());
      CHECK(got == want);
    }
    CHECK(error_of([&] { group_by_key(keys.to(kGPU), 5); }).find("key 7 at [200, 1]") != std::string::npos);
    CHECK(error_of([&] { group_by_key(keys.to(kGPU), 5, Tensor::from_vector<int32_t>(out_of_range, {300}).to(kGPU)); })
              .find("visit[123] = 300") != std::string::npos);
    CHECK(error_of([&] { group_by_key(keys.to(kGPU), 5, Tensor::from_vector<int32_t>(repeated, {300}).to(kGPU)); })
              .find("row 17 appears 2 times") != std::string::npos);
    CHECK(error_of([&] { group_by_key(keys.to(kGPU), 5, Tensor::arange(300)); }).find("different devices") !=
          std::string::npos);
  }
}
