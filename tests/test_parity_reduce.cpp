// Suite "parity", the reduction paths a real GPU needs (engine/kernels/reduce_cuda.cu,
// global_norm_cuda.cu): row sums cut into chunks when there are few long rows (full reductions),
// two-stage column sums (the bias gradient of a linear layer), max over the last dimension one row
// per warp or block with the CPU's tie and NaN rules, the global norm — and determinism: the same
// inputs give the same bits on every run.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "ops/global_norm.hpp"
#include "ops/reduce.hpp"
#include "tests/helpers.hpp"
#include "tests/parity.hpp"

using namespace dasg;
using test::check_parity;
using test::rand32;
using Inputs = std::vector<Tensor>;

namespace {
const Device kGPU = Device::cuda(0);

// CHECK that f gives the same bits twice on the device.
template <class F>
void check_deterministic(const char* what, F f) {
  const std::vector<double> a = f().to(kCPU).to(DType::f64).template to_vector<double>();
  const std::vector<double> b = f().to(kCPU).to(DType::f64).template to_vector<double>();
  INFO(what << ": two runs on the same inputs");
  CHECK(a == b);
}
}  // namespace

TEST_SUITE("parity") {
  TEST_CASE("parity:sum_rows_chunked_and_columns") {
    Generator g(41);
    // {20000}: a full reduction in 2 chunks; {3, 17000}: few long rows; {1100, 65}: the bias
    // gradient shape (dim 0: a column sum over 1100 rows in 128 chunks); {2, 300, 33}: outer > 1.
    // (Small enough for the emulator under the sanitizers.)
    for (Shape s : {Shape{20000}, Shape{3, 17000}, Shape{1100, 65}, Shape{2, 300, 33}, Shape{1, 5}, Shape{7, 1}}) {
      INFO("shape " << shape_str(s));
      Tensor x = rand32(s, g);
      check_parity([](const Inputs& in) { return sum(in[0]); }, {x});
      check_parity([](const Inputs& in) { return mean(in[0]); }, {x});
      for (int64_t d = 0; d < (int64_t)s.size(); ++d) {
        check_parity([d](const Inputs& in) { return sum(in[0], d); }, {x});
        check_parity([d](const Inputs& in) { return mean(in[0], d); }, {x});
        const Tensor xd = x.detach().to(kGPU);
        check_deterministic("sum over a dimension", [&] { return sum(xd, d); });
      }
      const Tensor xd = x.detach().to(kGPU);
      check_deterministic("full sum", [&] { return sum(xd); });
    }
    // f64 keeps the double accumulation's digits.
    Tensor x = Tensor::rand({1000, 40}, g, -1, 1, DType::f64);
    check_parity([](const Inputs& in) { return sum(in[0], 0); }, {x}, 1e-13);
    check_parity([](const Inputs& in) { return sum(in[0]); }, {x}, 1e-13);
  }

  TEST_CASE("parity:max_rows_ties_and_nan") {
    Generator g(42);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (int64_t n : {1, 17, 1024, 1025, 2000}) {  // warp rows up to 1024, block rows above
      INFO("row length " << n);
      const int64_t rows = 9;
      std::vector<float> v((size_t)(rows * n));
      for (size_t i = 0; i < v.size(); ++i) v[i] = (float)(int)(g.next_uniform() * 5);  // many ties
      v[(size_t)(2 * n + n / 2)] = nan;                          // row 2: one NaN
      if (n > 1) v[(size_t)(3 * n + 1)] = v[(size_t)(3 * n + n - 1)] = nan;  // row 3: two NaNs
      for (int64_t j = 0; j < n; ++j) v[(size_t)(4 * n + j)] = -1.0f;        // row 4: all equal
      Tensor x = Tensor::from_vector(v, {rows, n});
      const MaxResult want = max(x, 1);
      const MaxResult got = max(x.to(kGPU), 1);
      CHECK(got.indices.to(kCPU).to_vector<int32_t>() == want.indices.to_vector<int32_t>());
      test::check_close_tensors("max values", got.values, want.values, 0);
      x.requires_grad_(true);
      check_parity([](const Inputs& in) { return max(in[0], -1).values; }, {x});
    }
  }

  TEST_CASE("parity:global_norm") {
    Generator g(43);
    std::vector<Tensor> ts{Tensor::rand({129, 65}, g, -1, 1), Tensor::rand({3}, g, -1, 1), Tensor::zeros({0}),
                           Tensor::rand({20000}, g, -1, 1), Tensor::rand({1}, g, -1, 1)};
    std::vector<Tensor> ds;
    for (const Tensor& t : ts) ds.push_back(t.to(kGPU));
    const Tensor want = global_norm(ts), got = global_norm(ds);
    CHECK(got.device() == kGPU);
    CHECK(got.dim() == 0);
    double direct = 0;
    for (const Tensor& t : ts)
      for (float f : t.to_vector<float>()) direct += (double)f * (double)f;
    CHECK(want.item() == doctest::Approx(std::sqrt(direct)).epsilon(1e-6));
    test::check_close_tensors("global_norm", got, want, 1e-6);
    check_deterministic("global_norm", [&] { return global_norm(ds); });
    // f64
    std::vector<Tensor> t64{Tensor::rand({1000}, g, -1, 1, DType::f64), Tensor::rand({5, 7}, g, -1, 1, DType::f64)};
    std::vector<Tensor> d64{t64[0].to(kGPU), t64[1].to(kGPU)};
    test::check_close_tensors("global_norm f64", global_norm(d64), global_norm(t64), 1e-14);
    // Errors name the culprit.
    CHECK_ERROR_CONTAINS(global_norm({}), "global_norm", "no tensors");
    CHECK_ERROR_CONTAINS(global_norm({ds[0], ts[1]}), "global_norm", "tensor 1", "one device");
    CHECK_ERROR_CONTAINS(global_norm({ds[0], Tensor()}), "tensor 1", "undefined");
  }
}
