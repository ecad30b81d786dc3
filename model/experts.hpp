// Experts, the local top-k router and dropless dispatch (DESIGN §7.5, §7.6).
//   shallow expert:  y = W2·act(W1·x + b1) + b2                               D → F → D
//   deep expert:     h1 = act(W1·x + b1); h2 = act(W2·h1 + b2); h3 = act(W3·h2 + b3) + h1;
//                    y = W4·h3 + b4                                          D → F → Fd → F → D
//   route_top_k:     p = softmax(x·W_rᵀ); the k_i best experts per token (ties to the lower index);
//                    weights p_e/Σ_chosen p (k ≥ 2) or p_e (k = 1); the Switch-form balance loss
//                    coef·E·Σ f_e·P_e and the z-loss coef·mean(logsumexp(z)²).
//   run_experts:     tokens grouped by expert with one index_select, one GEMM chain per expert
//                    over its own tokens, outputs weighted and scattered back with one index_add.
//                    No per-token loop over experts.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "model/module.hpp"

namespace dasg {

struct ShallowExpert {
  Linear fc1, fc2;
  static ShallowExpert make(Parameters& p, const std::string& prefix, int64_t D, int64_t F, double out_std, Generator& gen);
  Tensor operator()(const Tensor& x) const;
};

struct DeepExpert {
  Linear fc1, fc2, fc3, fc4;
  static DeepExpert make(Parameters& p, const std::string& prefix, int64_t D, int64_t F, int64_t Fd, double out_std,
                         Generator& gen);
  Tensor operator()(const Tensor& x) const;
};

// A router's choices for Nt tokens: slot (i, c) of token i holds expert[i·k + c] (−1: unused)
// with weight weights[i·k + c].
struct Routing {
  int64_t k = 0;                // slots per token (the largest k_i)
  std::vector<int32_t> expert;  // [Nt·k]
  Tensor weights;               // [Nt·k, 1], differentiable in the router
  Tensor balance, z;            // scalar losses (0 for no token)
  std::vector<double> load;     // fraction of the assignments per expert
};

// x [Nt, D], router_weight [E, D], k_per_token[i] in 1..E.
Routing route_top_k(const Tensor& x, const Tensor& router_weight, const std::vector<int32_t>& k_per_token,
                    double balance_coef, double z_coef);
// The adr.random ablation: k distinct experts drawn uniformly per token, weights 1/k; the losses
// are computed as for route_top_k with these assignments.
Routing route_random(const Tensor& x, const Tensor& router_weight, int64_t k, double balance_coef, double z_coef,
                     Generator& gen);

// Tokens grouped by expert: the assignments (global row, routing slot) of expert e are
// [offsets[e], offsets[e+1]), in ascending row order within each expert.
struct Dispatch {
  std::vector<int32_t> rows;
  std::vector<int32_t> slots;
  std::vector<int64_t> offsets;
};
// keep(i, slot) decides whether an assignment is dispatched (Switch capacity); rows[i] is the
// global row of the router's token i.
Dispatch group_by_expert(const Routing& r, const std::vector<int32_t>& rows, int64_t n_experts,
                         const std::function<bool(int64_t token, int64_t slot)>& keep = nullptr);

// out = base + Σ_assignments weight·expert(x[row]), scattered to the assignments' rows of x [N, D].
Tensor run_experts(const Tensor& base, const Tensor& x, const Dispatch& d, const Tensor& weights,
                   const std::function<Tensor(int64_t expert, const Tensor& xe)>& expert);

}  // namespace dasg
