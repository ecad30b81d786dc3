// Optimizers over named parameters: AdamW (decoupled weight decay) and SGD with momentum.
// A parameter with requires_grad false (frozen) is never updated and holds no state; freezing a
// parameter drops its state at the next step. A parameter without a gradient is skipped.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "engine/tensor.hpp"

namespace dasg {

struct NamedParam {
  std::string name;
  Tensor tensor;
  bool decay = true;  // false for norms, biases, embeddings
};

class Optimizer {
 public:
  explicit Optimizer(std::vector<NamedParam> params);
  virtual ~Optimizer() = default;
  // One update with learning rate lr.
  void step(double lr);
  void zero_grad();
  int64_t steps() const { return steps_; }
  const std::vector<NamedParam>& params() const { return params_; }
  // The state tensors by "<slot>.<parameter name>" (e.g. "m.wte.weight"), for checkpoints.
  const std::map<std::string, Tensor>& state() const { return state_; }
  void load_state(const std::map<std::string, Tensor>& state, int64_t steps);
  bool has_state(const std::string& param_name) const;

 protected:
  // Updates every parameter of `ps` (trainable, with a gradient) in one call.
  virtual void update(const std::vector<const NamedParam*>& ps, double lr) = 0;
  Tensor& slot(const std::string& kind, const NamedParam& p);  // zero-initialised on first use
  void drop_state(const std::string& param_name);

  std::vector<NamedParam> params_;
  std::map<std::string, Tensor> state_;
  int64_t steps_ = 0;
};

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weight_decay = 0.1;
};

class AdamW : public Optimizer {
 public:
  AdamW(std::vector<NamedParam> params, AdamWOptions options = {});

 private:
  void update(const std::vector<const NamedParam*>& ps, double lr) override;  // one multi-tensor kernel
  AdamWOptions opt_;
};

struct SGDOptions {
  double momentum = 0.9, weight_decay = 0;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<NamedParam> params, SGDOptions options = {});

 private:
  void update(const std::vector<const NamedParam*>& ps, double lr) override;
  SGDOptions opt_;
};

// Linear warm-up from 0 to max_lr over `warmup` steps, then cosine decay to min_lr at `total`.
double learning_rate(int64_t step, int64_t warmup, int64_t total, double max_lr, double min_lr);

// The global L2 norm of the trainable parameters' gradients (ops/global_norm.hpp), a scalar on
// `device`, read by no one here (NaN or infinite when a gradient is not finite; 0 with none).
Tensor grad_norm(const std::vector<NamedParam>& params, Device device);
// g ← s·g for every trainable parameter's gradient, in place.
void scale_gradients(const std::vector<NamedParam>& params, double s);

// Scales every gradient so that their global L2 norm is at most max_norm (max_norm ≤ 0: no
// clipping). Returns the norm before clipping — NaN or infinite when a gradient is not finite,
// in which case nothing is scaled. One device→host copy (the trainer folds it into its step's).
double clip_grad_norm(const std::vector<NamedParam>& params, double max_norm);

}  // namespace dasg
