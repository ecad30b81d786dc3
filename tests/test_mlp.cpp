// Suite "end-to-end": a 2-layer MLP trained with plain SGD on a generated XOR-like data set
// (label 1 when x·y > 0, points kept away from the axes) drives its cross-entropy below 0.05.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/node.hpp"
#include "ops/elementwise.hpp"
#include "ops/matmul.hpp"
#include "ops/reduce.hpp"
#include "tests/helpers.hpp"

using namespace dasg;

TEST_SUITE("end-to-end") {
  TEST_CASE("end-to-end: 2-layer MLP learns XOR with SGD") {
    Generator gen(2024);
    const int n = 256;
    std::vector<float> xs, ys;
    while ((int)ys.size() < n) {
      float a = (float)(gen.next_uniform() * 2 - 1), b = (float)(gen.next_uniform() * 2 - 1);
      if (std::abs(a) < 0.15f || std::abs(b) < 0.15f) continue;
      xs.push_back(a);
      xs.push_back(b);
      ys.push_back(a * b > 0 ? 1.f : 0.f);
    }
    Tensor X = Tensor::from_vector(xs, {n, 2}), Y = Tensor::from_vector(ys, {n, 1});
    const int hidden = 32;
    Tensor W1 = (Tensor::randn({hidden, 2}, gen) * 1.0).detach().requires_grad_();
    Tensor b1 = Tensor::zeros({hidden}).requires_grad_();
    Tensor W2 = (Tensor::randn({1, hidden}, gen) * (1.0 / std::sqrt(hidden))).detach().requires_grad_();
    Tensor b2 = Tensor::zeros({1}).requires_grad_();
    std::vector<Tensor> params{W1, b1, W2, b2};

    double loss_value = 1e9;
    for (int step = 0; step < 3000 && loss_value >= 0.05; ++step) {
      Tensor z = linear(tanh(linear(X, W1, b1)), W2, b2);
      // binary cross-entropy from logits: mean(log(1 + e^z) − y·z), written with softplus
      // = relu(z) + log(1 + e^{−|z|}) to stay finite.
      Tensor abs_z = relu(z) + relu(neg(z));
      Tensor softplus = relu(z) + log(exp(neg(abs_z)) + 1.0);
      Tensor loss = mean(softplus - Y * z);
      for (Tensor& p : params) p.zero_grad();
      loss.backward();
      loss_value = loss.item();
      NoGradGuard ng;
      for (Tensor& p : params) {
        Tensor upd = p.grad() * -0.5;
        Tensor data = p.detach();
        data.copy_from(data + upd);
      }
    }
    INFO("final loss " << loss_value);
    CHECK(loss_value < 0.05);
  }
}
