// Suite "parity", the neural-network kernels: softmax and log_softmax (custom kernels and the cuDNN
// path), layer_norm, embedding, cross_entropy, dropout — each CUDA kernel against its CPU twin on
// fresh random inputs, forward and backward (tests/parity.hpp). Sizes are odd (1, 3, 17, 129), on
// both sides of the warp-per-row limit (1024 | 1025), and longer than one block (5000).
#include <doctest/doctest.h>

#include <vector>

#include "engine/cuda/context.hpp"
#include "ops/cross_entropy.hpp"
#include "ops/dropout.hpp"
#include "ops/embedding.hpp"
#include "ops/layer_norm.hpp"
#include "ops/softmax.hpp"
#include "tests/parity.hpp"

using namespace dasg;
using test::check_parity;
using test::rand32;
using Inputs = std::vector<Tensor>;

namespace {

const Device kGPU = Device::cuda(0);

// Turns the cuDNN softmax on or off for a scope, restoring the previous setting.
struct CudnnSoftmax {
  bool old;
  explicit CudnnSoftmax(bool on) : old(cuda::cudnn_softmax_enabled()) { cuda::set_cudnn_softmax(on); }
  ~CudnnSoftmax() { cuda::set_cudnn_softmax(old); }
};

const std::vector<Shape> kRowShapes{{1},    {3},       {17},         {3, 17},  {129},
                                    {129, 3}, {2, 3, 129}, {2, 1024}, {2, 1025}, {5000}, {3, 5000}};

// n random ints in [0, hi), with `ignore` at the positions where every_ignored divides m + 1.
std::vector<int32_t> random_ids(int64_t n, int64_t hi, Generator& g, int every_ignored = 0, int32_t ignore = -100) {
  std::vector<int32_t> v((size_t)n);
  for (int64_t m = 0; m < n; ++m)
    v[(size_t)m] = every_ignored > 0 && (m + 1) % every_ignored == 0 ? ignore : (int32_t)(g.next_uniform() * (double)hi);
  return v;
}

void check_softmax(bool log) {
  auto op = [log](const Inputs& in) { return log ? log_softmax(in[0]) : softmax(in[0]); };
  for (bool cudnn : {false, true}) {
    if (cudnn && !cuda::cudnn_available()) {  // a build without cuDNN (DASG_WITH_CUDNN=OFF)
      CHECK_THROWS_AS(cuda::set_cudnn_softmax(true), Error);
      continue;
    }
    CudnnSoftmax flag(cudnn);
    INFO("through cuDNN: " << cudnn);
    Generator g(log ? 31 : 30);
    for (const Shape& s : kRowShapes) {
      INFO("shape " << shape_str(s));
      check_parity(op, {rand32(s, g, true, -3, 3)});
      check_parity(op, {rand32(s, g, true, -60, 60)});  // large logits: the row maximum matters
    }
    // f64: cuDNN's double softmax where the library has one, the custom kernel otherwise.
    for (const Shape& s : {Shape{3, 17}, Shape{2, 1025}}) {
      Tensor x = Tensor::rand(s, g, -3, 3, DType::f64);
      x.requires_grad_(true);
      check_parity(op, {x}, 1e-12);
    }
  }
}

}  // namespace

TEST_SUITE("parity") {
  TEST_CASE("parity:softmax") { check_softmax(false); }

  TEST_CASE("parity:log_softmax") { check_softmax(true); }

  TEST_CASE("parity:layer_norm") {
    Generator g(32);
    const std::vector<Shape> shapes{{1, 1},  {3},       {17},        {3, 17},     {129, 3},
                                    {300, 17}, {2, 3, 129}, {2, 1024}, {3, 1025}, {2, 5000}};
    for (const Shape& s : shapes) {
      INFO("shape " << shape_str(s));
      const int64_t D = s.back();
      Tensor x = rand32(s, g, true, -2, 2), w = rand32({D}, g, true, 0.5, 1.5), b = rand32({D}, g);
      check_parity([](const Inputs& in) { return layer_norm(in[0], in[1], in[2]); }, {x, w, b});
      check_parity([](const Inputs& in) { return layer_norm(in[0], in[1], Tensor(), 1e-3); }, {x, w});
      check_parity([](const Inputs& in) { return layer_norm(in[0], Tensor(), in[1]); }, {x, b});
      check_parity([](const Inputs& in) { return layer_norm(in[0], Tensor(), Tensor()); }, {x});
      // |mean| much larger than the spread (the two-pass variance), and frozen x: dw, db alone.
      Tensor off = rand32(s, g, false, 100, 101);
      check_parity([](const Inputs& in) { return layer_norm(in[0], in[1], in[2]); }, {off, w, b});
    }
    Tensor x = Tensor::rand({5, 129}, g, -2, 2, DType::f64), w = Tensor::rand({129}, g, 0.5, 1.5, DType::f64);
    x.requires_grad_(true);
    w.requires_grad_(true);
    check_parity([](const Inputs& in) { return layer_norm(in[0], in[1], Tensor()); }, {x, w}, 1e-12);
  }

  TEST_CASE("parity:embedding") {
    Generator g(33);
    // (V, D, ids shape): single rows, many duplicates (V = 1, 3), more positions than a block
    // stages at once, more rows than there are row slices (V > 256), long rows.
    const std::vector<std::tuple<int64_t, int64_t, Shape>> cases{
        {1, 1, {1}},     {3, 17, {17}},     {1, 3, {5, 7}},      {17, 3, {129}},    {129, 17, {3, 17}},
        {3, 129, {1000}}, {300, 3, {2, 129}}, {1000, 33, {700}}, {17, 5000, {3, 17}}};
    for (const auto& [V, D, ids_shape] : cases) {
      INFO("V " << V << ", D " << D << ", ids " << shape_str(ids_shape));
      Tensor table = rand32({V, D}, g);
      Tensor ids = Tensor::from_vector(random_ids(numel(ids_shape), V, g), ids_shape);
      check_parity([](const Inputs& in) { return embedding(in[0], in[1]); }, {table, ids});
      // The scatter-add sums in position order on both devices: the same bits, duplicates included.
      Shape out_shape = ids_shape;
      out_shape.push_back(D);
      Tensor up = Tensor::rand(out_shape, g, -1, 1);
      table.impl().grad.reset();
      embedding(table, ids).backward(up);
      Tensor table_dev = table.detach().to(kGPU).requires_grad_(true);
      embedding(table_dev, ids.to(kGPU)).backward(up.to(kGPU));
      CHECK(table_dev.grad().to(kCPU).to_vector<float>() == table.grad().to_vector<float>());
    }
    // An id out of range: the CPU's error at the call; on CUDA the same text, found on the device
    // and reported at the next read of a result (the first bad position wins), no host copy of ids.
    Tensor table = rand32({5, 3}, g, false);
    const Tensor bad = Tensor::from_vector<int32_t>({0, 4, 7, 1, -2, 9}, {2, 3});
    std::string cpu, dev;
    try {
      embedding(table, bad);
    } catch (const Error& e) {
      cpu = e.what();
    }
    Tensor y = embedding(table.to(kGPU), bad.to(kGPU));  // no error yet
    try {
      (void)y.to(kCPU);
    } catch (const Error& e) {
      dev = e.what();
    }
    INFO("cpu: " << cpu << "\ncuda: " << dev);
    CHECK(cpu.find("id 7 at position [0, 2]") != std::string::npos);
    CHECK(dev.rfind(cpu, 0) == 0);
    CHECK(dev.find("device-side index check") != std::string::npos);
    CHECK(y.to(kCPU).to_vector<float>()[6] == 0.0f);  // the bad id's row is 0; read again: no error
  }

  TEST_CASE("parity:cross_entropy") {
    Generator g(34);
    const std::vector<std::pair<Shape, int64_t>> cases{{{1}, 1},    {{3}, 3},     {{17}, 17},   {{129}, 3},
                                                       {{3}, 129},  {{2, 3}, 17}, {{5}, 1024},  {{4}, 1025},
                                                       {{3}, 5000}, {{2, 65}, 129}};
    for (const auto& [lead, C] : cases) {
      Shape s = lead;
      s.push_back(C);
      INFO("logits " << shape_str(s));
      Tensor logits = rand32(s, g, true, -4, 4);
      // every third position ignored (default ignore_index), and a valid class used as ignore_index.
      Tensor t_ign = Tensor::from_vector(random_ids(numel(lead), C, g, 3), lead);
      Tensor t_all = Tensor::from_vector(random_ids(numel(lead), C, g), lead);
      for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
        INFO("reduction " << (int)r);
        check_parity([r](const Inputs& in) { return cross_entropy(in[0], in[1], -100, r); }, {logits, t_ign});
        check_parity([r](const Inputs& in) { return cross_entropy(in[0], in[1], 0, r); }, {logits, t_all});
      }
    }
    // Every position ignored: mean over no positions is 0, and so is the gradient.
    Tensor logits = rand32({4, 17}, g);
    Tensor none = Tensor::from_vector(std::vector<int32_t>(4, -100), {4});
    check_parity([](const Inputs& in) { return cross_entropy(in[0], in[1]); }, {logits, none});
    // A target out of range: the CPU's error at the call; on CUDA the same text, found on the
    // device and reported at the next read of a result, with no host copy of the targets.
    const Tensor bad = Tensor::from_vector<int32_t>({0, -100, 17, -3}, {2, 2});
    std::string cpu, dev;
    try {
      cross_entropy(rand32({2, 2, 17}, g, false), bad);
    } catch (const Error& e) {
      cpu = e.what();
    }
    Tensor loss = cross_entropy(rand32({2, 2, 17}, g, false).to(kGPU), bad.to(kGPU));  // no error yet
    try {
      (void)loss.to(kCPU);
    } catch (const Error& e) {
      dev = e.what();
    }
    INFO("cpu: " << cpu << "\ncuda: " << dev);
    CHECK(cpu.find("target 17 at position [1, 0]") != std::string::npos);
    CHECK(dev.rfind(cpu, 0) == 0);
    CHECK(dev.find("device-side index check") != std::string::npos);
  }

  TEST_CASE("parity:dropout") {
    Generator g(35);
    for (const Shape& s : {Shape{1}, Shape{3}, Shape{17}, Shape{129}, Shape{3, 43}, Shape{5000}, Shape{3, 1667}})
      for (double p : {0.1, 0.5, 0.9}) {
        INFO("shape " << shape_str(s) << ", p " << p);
        Tensor x = rand32(s, g);
        // A generator with a used offset, the same on both devices.
        auto op = [p](const Inputs& in) {
          Generator gen(1234);
          gen.reserve(7);
          return dropout(in[0], p, true, gen);
        };
        check_parity(op, {x});
        // The same mask bit for bit: y and the gradient are x·mask/(1 − p) on both devices.
        CHECK(op({x.to(kGPU)}).to(kCPU).to_vector<float>() == op({x}).to_vector<float>());
      }
  }
}
