// The parity harness: an op run on the CPU and on CUDA(0) — natively, or under the emulator —
// from the same fresh random inputs, comparing the outputs and every input's gradient (with
// the same random upstream gradient). The error measure is normwise relative:
//   max_i |cuda_i − cpu_i| / max(max_i |cpu_i|, 1e-30)  ≤ tol   (default 1e-5 for f32).
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "engine/rng.hpp"
#include "engine/tensor.hpp"

namespace dasg::test {

inline double relative_error(const Tensor& got, const Tensor& want) {
  REQUIRE(got.shape() == want.shape());
  std::vector<double> g = got.to(kCPU).to(DType::f64).to_vector<double>();
  std::vector<double> w = want.to(kCPU).to(DType::f64).to_vector<double>();
  double diff = 0, scale = 1e-30;
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(g[i]) != std::isnan(w[i])) return INFINITY;
    if (std::isnan(w[i])) continue;
    diff = std::max(diff, std::abs(g[i] - w[i]));
    scale = std::max(scale, std::abs(w[i]));
  }
  return diff / scale;
}

inline void check_close_tensors(const char* what, const Tensor& got, const Tensor& want, double tol) {
  double err = relative_error(got, want);
  INFO(what << ": relative error " << err << " (tolerance " << tol << "), " << got.str() << " vs " << want.str());
  CHECK(err <= tol);
}

// f maps inputs to one output. Inputs are CPU tensors; those requiring grad get gradients
// compared too. Integer inputs are copied as they are.
inline void check_parity(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                         const std::vector<Tensor>& cpu_inputs, double tol = 1e-5, uint64_t seed = 7) {
  std::vector<Tensor> dev_inputs;
  for (const Tensor& t : cpu_inputs) {
    Tensor d = t.detach().to(Device::cuda(0));
    if (t.requires_grad()) d.requires_grad_(true);
    dev_inputs.push_back(d);
  }
  for (const Tensor& t : cpu_inputs)
    if (t.requires_grad()) t.impl().grad.reset();
  Tensor y_cpu = f(cpu_inputs);
  Tensor y_dev = f(dev_inputs);
  REQUIRE(y_dev.device() == Device::cuda(0));
  check_close_tensors("forward", y_dev, y_cpu, tol);
  if (!y_cpu.requires_grad()) return;
  Generator gen(seed);
  Tensor g = Tensor::rand(y_cpu.shape(), gen, -1, 1, y_cpu.dtype());
  y_cpu.backward(g);
  y_dev.backward(g.to(Device::cuda(0)));
  for (size_t k = 0; k < cpu_inputs.size(); ++k) {
    if (!cpu_inputs[k].requires_grad()) continue;
    INFO("gradient of input " << k);
    REQUIRE(dev_inputs[k].grad().defined() == cpu_inputs[k].grad().defined());
    if (cpu_inputs[k].grad().defined()) check_close_tensors("backward", dev_inputs[k].grad(), cpu_inputs[k].grad(), tol);
  }
}

// A random f32 CPU tensor in [lo, hi), optionally requiring grad.
inline Tensor rand32(const Shape& s, Generator& g, bool grad = true, double lo = -1, double hi = 1) {
  Tensor t = Tensor::rand(s, g, lo, hi, DType::f32);
  if (grad) t.requires_grad_(true);
  return t;
}

}  // namespace dasg::test
