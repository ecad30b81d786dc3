// The routing's per-step training state (see router_state.hpp).
#include "train/router_state.hpp"

#include <algorithm>
#include <cmath>

#include "autograd/node.hpp"
#include "ops/compare.hpp"
#include "ops/elementwise.hpp"
#include "ops/reduce.hpp"
#include "ops/shape.hpp"

namespace dasg {

RouterState::RouterState(const Config& cfg) : cfg_(cfg), layers_((size_t)cfg.n_layer), mean_reward_((size_t)cfg.n_layer, 0.0) {}

bool RouterState::transfers_at(const Model& model, int64_t step, int64_t total_steps) const {
  return cfg_.ffn == "dasg" && !model.deep_active() && step >= cfg_.dsse_transfer_step(total_steps);
}

void RouterState::begin_step(Model& model, int64_t step, int64_t total_steps) const {
  if (transfers_at(model, step, total_steps)) model.transfer_dsse();
}

Tensor RouterState::policy_loss(const ForwardResult& r) {
  DASG_CHECK(r.layers.size() == layers_.size(), "RouterState: ", r.layers.size(), " routing records for a model of ",
             layers_.size(), " layers");
  Tensor total;
  const double shallow_cost = (double)cfg_.d_model / (double)(cfg_.d_model + cfg_.moe.d_ff_deep);
  for (size_t l = 0; l < layers_.size(); ++l) {
    const LayerRouting& lr = r.layers[l];
    Layer& st = layers_[l];
    if (!lr.raw.defined()) continue;  // not a dasg layer
    st.raw.push_back(lr.raw);
    st.counted.push_back(lr.counted);
    // Nothing sampled (evaluation, before the transfer), or no targets to reward: no surrogate.
    if (!lr.log_prob.defined() || !r.row_loss.defined()) continue;
    // Rewards and advantages are made of detached tensors: no graph.
    const Tensor mask = lr.sampled * r.row_has_loss;
    const Tensor n = sum(mask);
    const Tensor reward = tier_reward(r.row_loss, lr.deep, cfg_.adr.cost_coef, shallow_cost) * mask;
    const Tensor reward_sum = sum(reward);
    // b from before the step; the batch's own mean until the layer's first step completes.
    const Tensor b = st.baseline.set ? Tensor::scalar(st.baseline.value, reward.dtype(), reward.device())
                                     : reward_sum / where(greater(n, 0.5), n, 1.0);
    const Tensor advantage = (reward - b) * mask;
    st.reward_sum = st.reward_sum.defined() ? st.reward_sum + reward_sum : reward_sum;
    st.reward_n = st.reward_n.defined() ? st.reward_n + n : n;
    const Tensor L = reinforce_surrogate(lr.log_prob, advantage, n, cfg_.adr.policy_coef);
    total = total.defined() ? total + L : L;
  }
  return total.defined() ? total : Tensor::scalar(0, r.loss.dtype(), r.loss.device());
}

namespace {

// h holds, per layer k, [n, mean r, var r, Σ R, n sampled, μ, σ_r] of this rank (7 values); on
// return the first five are the global batch's: Σ n, the pooled mean and population variance
// (from Σ n·m and Σ n·(v + m²), in f64: no cancellation worth a bit of f32), Σ R, Σ n sampled.
void combine_over_ranks(std::vector<double>& h, size_t layers, dist::Communicator& comm) {
  std::vector<double> s(5 * layers);
  for (size_t k = 0; k < layers; ++k) {
    const double* v = h.data() + 7 * k;
    s[5 * k] = v[0];
    s[5 * k + 1] = v[0] * v[1];
    s[5 * k + 2] = v[0] * (v[2] + v[1] * v[1]);
    s[5 * k + 3] = v[3];
    s[5 * k + 4] = v[4];
  }
  comm.all_reduce_sum(s);
  for (size_t k = 0; k < layers; ++k) {
    double* v = h.data() + 7 * k;
    const double n = s[5 * k], mean = n > 0 ? s[5 * k + 1] / n : 0.0;
    v[0] = n;
    v[1] = mean;
    v[2] = n > 0 ? std::max(0.0, s[5 * k + 2] / n - mean * mean) : 0.0;
    v[3] = s[5 * k + 3];
    v[4] = s[5 * k + 4];
  }
}

}  // namespace

void RouterState::end_step(Model& model, dist::Communicator* comm) {
  NoGradGuard no_grad;
  // Per dasg layer: [n, mean r, var r (population), Σ R, n sampled, μ, σ_r] — one copy for all.
  std::vector<Tensor> pack;
  std::vector<size_t> which;
  for (size_t l = 0; l < layers_.size(); ++l) {
    Layer& st = layers_[l];
    if (st.raw.empty()) continue;
    const std::string prefix = "blocks." + std::to_string(l) + ".ffn.evaluator.";
    const Tensor r = st.raw.size() == 1 ? st.raw[0] : concat(st.raw, 0);
    const Tensor c = st.counted.size() == 1 ? st.counted[0] : concat(st.counted, 0);
    const Tensor n = sum(c), n1 = where(greater(n, 0.5), n, 1.0);
    const Tensor m = sum(r * c) / n1;
    const Tensor d = (r - m) * c;
    const Tensor v = sum(d * d) / n1;
    const Tensor zero = Tensor::scalar(0, r.dtype(), r.device());
    for (const Tensor& t : {n, m, v, st.reward_sum.defined() ? st.reward_sum : zero,
                            st.reward_n.defined() ? st.reward_n : zero})
      pack.push_back(reshape(t, {1}));
    pack.push_back(model.parameters().get(prefix + "mean").to(r.dtype()));
    pack.push_back(model.parameters().get(prefix + "std").to(r.dtype()));
    which.push_back(l);
  }
  if (pack.empty()) return;
  std::vector<double> h = concat(pack, 0).to(DType::f64).to(kCPU).to_vector<double>();
  if (comm && comm->size() > 1) combine_over_ranks(h, which.size(), *comm);
  for (size_t k = 0; k < which.size(); ++k) {
    const size_t l = which[k];
    Layer& st = layers_[l];
    const double* v = h.data() + 7 * k;
    const double n = v[0], mean = v[1], var = v[2], reward_sum = v[3], reward_n = v[4], mu = v[5], sd = v[6];
    if (n > 0) {  // the first update sets (μ, σ_r²), later ones blend with adr.stats_momentum
      const double km = st.stats_set ? cfg_.adr.stats_momentum : 0.0;
      const std::string prefix = "blocks." + std::to_string(l) + ".ffn.evaluator.";
      model.parameters().get(prefix + "mean").fill_(km * mu + (1 - km) * mean);
      model.parameters().get(prefix + "std").fill_(std::sqrt(km * sd * sd + (1 - km) * var));
      st.stats_set = true;
    }
    mean_reward_[l] = reward_n > 0 ? reward_sum / reward_n : 0.0;
    if (reward_n > 0) st.baseline.update(mean_reward_[l], cfg_.adr.baseline_momentum);
  }
  discard_step();
}

void RouterState::discard_step() {
  for (Layer& st : layers_) {
    st.raw.clear();
    st.counted.clear();
    st.reward_sum = st.reward_n = Tensor();
  }
}

std::vector<double> RouterState::baselines() const {
  std::vector<double> b;
  for (const Layer& st : layers_) b.push_back(st.baseline.value);
  return b;
}

nlohmann::json RouterState::to_json() const {
  nlohmann::json a = nlohmann::json::array();
  for (const Layer& s : layers_)
    a.push_back({{"stats_set", s.stats_set}, {"baseline_set", s.baseline.set}, {"baseline", s.baseline.value}});
  return a;
}

void RouterState::from_json(const nlohmann::json& a) {
  DASG_CHECK(a.is_array() && a.size() == layers_.size(), "router state: \"adr\" holds ", a.is_array() ? a.size() : 0,
             " layers; expected an array of ", layers_.size());
  for (size_t l = 0; l < layers_.size(); ++l) {
    const nlohmann::json& s = a[l];
    DASG_CHECK(s.is_object() && s.value("stats_set", nlohmann::json()).is_boolean() &&
                   s.value("baseline_set", nlohmann::json()).is_boolean() && s.value("baseline", nlohmann::json()).is_number(),
               "router state: \"adr\"[", l, "] is ", s.dump(), "; expected {stats_set: bool, baseline_set: bool, baseline: number}");
    layers_[l].stats_set = s["stats_set"];
    layers_[l].baseline = {s["baseline_set"], s["baseline"]};
  }
}

}  // namespace dasg
