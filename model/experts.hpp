// Experts, the local top-k router and dropless dispatch (DESIGN §7.5, §7.6), on the batch's device.
//   shallow expert:  y = W2·act(W1·x + b1) + b2                               D → F → D
//   deep expert:     h1 = act(W1·x + b1); h2 = act(W2·h1 + b2); h3 = act(W3·h2 + b3) + h1;
//                    y = W4·h3 + b4                                          D → F → Fd → F → D
//   route_top_k:     p = softmax(x·W_rᵀ); the k_i best experts per token of the tier (ties to the
//                    lower index); weights p_e/Σ_chosen p (k_i ≥ 2) or p_e (k_i = 1).
//   router_losses:   the Switch-form balance loss coef·E·Σ f_e·P_e (f from the assignment counts,
//                    P the mean router probability over the tier's tokens) and the z-loss
//                    coef·mean over the tier's tokens of logsumexp(z)²; 0 for a tier with no token.
//   run_experts:     tokens grouped by expert (ops/dispatch.hpp) gathered with one index_select,
//                    one GEMM chain per expert over its own tokens, outputs weighted and scattered
//                    back with one index_add. No per-token loop over experts.
//                    Expert parallel (ExpertShards): the gathered rows are ordered by their
//                    experts' ranks and exchanged (ops/exchange.hpp); each rank runs its own
//                    experts over the rows every rank sent it, and the outputs go back the same
//                    way; the weights and the scatter stay on the token's rank.
//                    Mixed precision: x is the experts' bf16 operand, so the rows are gathered,
//                    exchanged and fed to the first GEMM in bf16; the outputs are f32.
// A router runs over all N rows of the layer with a 0/1 mask of the rows in its tier, so nothing
// about the tier split is read back to the host; the expert GEMMs are sized by the per-expert
// counts, the layer's one device→host copy (model/ffn.cpp).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "model/module.hpp"
#include "ops/exchange.hpp"

namespace dasg {

struct ShallowExpert {
  Linear fc1, fc2;
  static ShallowExpert make(Parameters& p, const std::string& prefix, int64_t D, int64_t F, double out_std, Generator& gen);
  Tensor operator()(const Tensor& x, DType gemm = DType::f32) const;  // gemm: as Linear's
};

struct DeepExpert {
  Linear fc1, fc2, fc3, fc4;
  static DeepExpert make(Parameters& p, const std::string& prefix, int64_t D, int64_t F, int64_t Fd, double out_std,
                         Generator& gen);
  Tensor operator()(const Tensor& x, DType gemm = DType::f32) const;  // gemm: as Linear's
};

// A router's choices for the N rows of a layer: slot (i, c) of row i goes to expert keys[i, c]
// (−1: nowhere — a row outside the tier, or a second slot dynamic k leaves unused) with weight
// weights[i·k + c].
struct Routing {
  int64_t k = 0;   // slots per row
  Tensor keys;     // i32 [N, k]
  Tensor weights;  // [N·k, 1], differentiable in the router
  Tensor probs;    // p [N, E], differentiable
  Tensor lse;      // logsumexp(z) [N], differentiable
};

// x [N, D], router_weight [E, D], rows [N] 0/1: the tier's rows; second [N] 0/1 (dynamic k: the
// rows whose k_i = 2; undefined: every row takes k slots).
Routing route_top_k(const Tensor& x, const Tensor& router_weight, const Tensor& rows, int64_t k,
                    const Tensor& second = Tensor());
// The adr.random ablation: k distinct experts drawn uniformly per row (the k largest of E uniform
// numbers), weights 1/k.
Routing route_random(const Tensor& x, const Tensor& router_weight, const Tensor& rows, int64_t k, Generator& gen);

struct RouterLosses {
  Tensor balance, z;  // scalars
};
// counts i32 [E]: the tier's assignments per expert (before any capacity).
RouterLosses router_losses(const Routing& r, const Tensor& rows, const Tensor& counts, double balance_coef,
                           double z_coef);

// Expert parallelism over the ranks of `exchange`: expert e of the grouped numbering runs on
// rank owner[e] (expert_rank below); the rest of the model is replicated.
struct ExpertShards {
  std::shared_ptr<RowExchange> exchange;
  std::vector<int> owner;
};
// The rank of expert e of a tier of E experts over `world` ranks: contiguous blocks of E/world
// (E a multiple of world, checked by Model::set_expert_exchange).
inline int expert_rank(int64_t e, int64_t E, int world) { return (int)(e / (E / world)); }

// out = base + Σ_assignments weight·expert(x[row]), scattered to the assignments' rows of x [N, D].
// rows/slots: the grouped assignments (ops/dispatch.hpp, i32, −1 tail); kept[e]: expert e's count.
Tensor run_experts(const Tensor& base, const Tensor& x, const Tensor& rows, const Tensor& slots,
                   const std::vector<int32_t>& kept, const Tensor& weights,
                   const std::function<Tensor(int64_t expert, const Tensor& xe)>& expert,
                   const ExpertShards* shards = nullptr);

}  // namespace dasg
