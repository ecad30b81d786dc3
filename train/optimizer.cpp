// AdamW and SGD steps over named parameters, the warm-up + cosine schedule, and global-norm
// gradient clipping. The per-element math is in engine/kernels/optim.hpp.
#include "train/optimizer.hpp"

#include <cmath>

#include "autograd/node.hpp"
#include "engine/kernels/elementwise.hpp"
#include "engine/kernels/optim.hpp"
#include "ops/global_norm.hpp"

namespace dasg {

Optimizer::Optimizer(std::vector<NamedParam> params) : params_(std::move(params)) {
  for (const NamedParam& p : params_)
    DASG_CHECK(p.tensor.defined() && p.tensor.is_leaf() && is_floating(p.tensor.dtype()), "optimizer: parameter '",
               p.name, "' must be a floating-point leaf tensor");
}

void Optimizer::step(double lr) {
  NoGradGuard no_grad;
  ++steps_;
  std::vector<const NamedParam*> ps;
  for (const NamedParam& p : params_) {
    if (!p.tensor.requires_grad()) {
      drop_state(p.name);
      continue;
    }
    if (p.tensor.grad().defined()) ps.push_back(&p);
  }
  update(ps, lr);
}

void Optimizer::zero_grad() {
  for (const NamedParam& p : params_) const_cast<Tensor&>(p.tensor).zero_grad();
}

Tensor& Optimizer::slot(const std::string& kind, const NamedParam& p) {
  auto [it, fresh] = state_.try_emplace(kind + "." + p.name);
  if (fresh) it->second = Tensor::zeros(p.tensor.shape(), p.tensor.dtype(), p.tensor.device());
  return it->second;
}

void Optimizer::drop_state(const std::string& name) {
  for (auto it = state_.begin(); it != state_.end();) {
    const std::string& key = it->first;
    size_t dot = key.find('.');
    if (dot != std::string::npos && key.compare(dot + 1, std::string::npos, name) == 0)
      it = state_.erase(it);
    else
      ++it;
  }
}

bool Optimizer::has_state(const std::string& name) const {
  for (const auto& [key, t] : state_) {
    size_t dot = key.find('.');
    if (dot != std::string::npos && key.compare(dot + 1, std::string::npos, name) == 0) return true;
  }
  return false;
}

void Optimizer::load_state(const std::map<std::string, Tensor>& state, int64_t steps) {
  for (const auto& [key, t] : state) {
    size_t dot = key.find('.');
    std::string name = dot == std::string::npos ? key : key.substr(dot + 1);
    const NamedParam* match = nullptr;
    for (const NamedParam& p : params_)
      if (p.name == name) match = &p;
    DASG_CHECK(match, "optimizer: state '", key, "' names no parameter of this model");
    DASG_CHECK(t.shape() == match->tensor.shape() && t.dtype() == match->tensor.dtype(), "optimizer: state '", key,
               "' is ", t.str(), ", parameter is ", match->tensor.str());
  }
  state_.clear();
  for (const auto& [key, t] : state) {  // on each parameter's device
    const size_t dot = key.find('.');
    const std::string name = dot == std::string::npos ? key : key.substr(dot + 1);
    for (const NamedParam& p : params_)
      if (p.name == name) state_[key] = t.to(p.tensor.device()).clone();
  }
  steps_ = steps;
}

AdamW::AdamW(std::vector<NamedParam> params, AdamWOptions options) : Optimizer(std::move(params)), opt_(options) {}

void AdamW::update(const std::vector<const NamedParam*>& ps, double lr) {
  const kernels::AdamWStep s{lr, opt_.beta1, opt_.beta2, opt_.eps, opt_.weight_decay,
                             1 - std::pow(opt_.beta1, (double)steps_), 1 - std::pow(opt_.beta2, (double)steps_)};
  std::vector<kernels::AdamWParam> all;
  all.reserve(ps.size());
  for (const NamedParam* p : ps)
    all.push_back({p->tensor, p->tensor.grad(), slot("m", *p), slot("v", *p), p->decay ? opt_.weight_decay : 0.0});
  kernels::adamw_all(all, s);
}

SGD::SGD(std::vector<NamedParam> params, SGDOptions options) : Optimizer(std::move(params)), opt_(options) {}

void SGD::update(const std::vector<const NamedParam*>& ps, double lr) {
  for (const NamedParam* p : ps) {
    Tensor t = p->tensor;
    kernels::sgd(t, p->tensor.grad(), slot("momentum", *p), lr, opt_.momentum, p->decay ? opt_.weight_decay : 0.0);
  }
}

double learning_rate(int64_t step, int64_t warmup, int64_t total, double max_lr, double min_lr) {
  if (warmup > 0 && step < warmup) return max_lr * (double)(step + 1) / (double)warmup;
  if (step >= total) return min_lr;
  double progress = (double)(step - warmup) / (double)std::max<int64_t>(1, total - warmup);
  return min_lr + 0.5 * (max_lr - min_lr) * (1 + std::cos(M_PI * progress));
}

Tensor grad_norm(const std::vector<NamedParam>& params, Device device) {
  std::vector<Tensor> grads;
  for (const NamedParam& p : params)
    if (p.tensor.requires_grad() && p.tensor.grad().defined()) grads.push_back(p.tensor.grad());
  return grads.empty() ? Tensor::scalar(0, DType::f32, device) : global_norm(grads);
}

void scale_gradients(const std::vector<NamedParam>& params, double s) {
  for (const NamedParam& p : params)
    if (p.tensor.requires_grad() && p.tensor.grad().defined()) {
      Tensor g = p.tensor.grad();
      kernels::binary_scalar(kernels::BinaryOp::mul, g, s, g);
    }
}

double clip_grad_norm(const std::vector<NamedParam>& params, double max_norm) {
  if (params.empty()) return 0;
  const double norm = grad_norm(params, params.front().tensor.device()).item();
  if (!std::isfinite(norm) || max_norm <= 0 || norm <= max_norm) return norm;
  scale_gradients(params, max_norm / (norm + 1e-6));
  return norm;
}

}  // namespace dasg
