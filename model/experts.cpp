// Shallow/deep experts, the local top-k router with its balance and z losses, and dropless
// dispatch (DESIGN §7.5).
#include "model/experts.hpp"

#include <numeric>

#include "model/batch.hpp"
#include "ops/cast.hpp"
#include "ops/compare.hpp"
#include "ops/elementwise.hpp"
#include "ops/index.hpp"
#include "ops/matmul.hpp"
#include "ops/random.hpp"
#include "ops/reduce.hpp"
#include "ops/shape.hpp"
#include "ops/softmax.hpp"
#include "ops/topk.hpp"

namespace dasg {

ShallowExpert ShallowExpert::make(Parameters& p, const std::string& prefix, int64_t D, int64_t F, double out_std,
                                  Generator& gen) {
  return {Linear::make(p, prefix + ".fc1", F, D, 0.02, gen), Linear::make(p, prefix + ".fc2", D, F, out_std, gen)};
}

Tensor ShallowExpert::operator()(const Tensor& x, DType gemm) const { return fc2(fc1.gelu(x, gemm), gemm); }

DeepExpert DeepExpert::make(Parameters& p, const std::string& prefix, int64_t D, int64_t F, int64_t Fd, double out_std,
                            Generator& gen) {
  return {Linear::make(p, prefix + ".fc1", F, D, 0.02, gen), Linear::make(p, prefix + ".fc2", Fd, F, 0.02, gen),
          Linear::make(p, prefix + ".fc3", F, Fd, 0.02, gen), Linear::make(p, prefix + ".fc4", D, F, out_std, gen)};
}

Tensor DeepExpert::operator()(const Tensor& x, DType gemm) const {
  Tensor h1 = fc1.gelu(x, gemm);
  Tensor h2 = fc2.gelu(h1, gemm);
  Tensor h3 = fc3.gelu(h2, gemm) + h1;
  return fc4(h3, gemm);
}

namespace {

// Slot (i, c) keeps expert index[i, c] where valid[i, c] = 1, else −1 (i32 [N, k]).
Tensor slot_keys(const Tensor& index, const Tensor& valid) {
  return (index.to(valid.dtype()) * valid + (valid - 1.0)).to(DType::i32);
}

// z = x·W_rᵀ [N, E], its softmax and logsumexp.
void router_scores(const Tensor& x, const Tensor& router_weight, Routing& r, Tensor& z) {
  z = matmul(x, router_weight, false, true);
  r.probs = softmax(z);
  const Tensor m = max(z, 1, true).values.detach();
  r.lse = reshape(log(sum(exp(z - m), 1, true)) + m, {x.size(0)});
}

}  // namespace

Routing route_top_k(const Tensor& x, const Tensor& router_weight, const Tensor& rows, int64_t k, const Tensor& second) {
  const int64_t N = x.size(0);
  Routing r;
  r.k = k;
  Tensor z;
  router_scores(x, router_weight, r, z);
  TopkResult top = topk(r.probs, k);
  const Tensor in_tier = reshape(rows, {N, 1});
  Tensor w, valid;
  if (second.defined() && k == 2) {  // dynamic k: slot 1 only where k_i = 2
    const Tensor multi = reshape(second, {N, 1});
    const Tensor slot_mask = concat({Tensor::ones({N, 1}, x.dtype(), x.device()), multi}, 1);
    w = top.values / sum(top.values, 1, true) * multi + top.values * slot_mask * (1.0 - multi);
    valid = in_tier * slot_mask;
  } else {
    w = k >= 2 ? top.values / sum(top.values, 1, true) : top.values;
    valid = in_tier * Tensor::ones({N, k}, x.dtype(), x.device());
  }
  r.keys = slot_keys(top.indices, valid);
  r.weights = reshape(w, {N * k, 1});
  return r;
}

Routing route_random(const Tensor& x, const Tensor& router_weight, const Tensor& rows, int64_t k, Generator& gen) {
  const int64_t N = x.size(0), E = router_weight.size(0);
  Routing r;
  r.k = k;
  Tensor z;
  router_scores(x, router_weight, r, z);
  TopkResult pick = topk(uniform({N, E}, gen, x.device(), x.dtype()), k);
  r.keys = slot_keys(pick.indices, reshape(rows, {N, 1}) * Tensor::ones({N, k}, x.dtype(), x.device()));
  r.weights = Tensor::full({N * k, 1}, 1.0 / (double)k, x.dtype(), x.device());
  return r;
}

RouterLosses router_losses(const Routing& r, const Tensor& rows, const Tensor& counts, double balance_coef,
                           double z_coef) {
  const int64_t N = r.probs.size(0), E = r.probs.size(1);
  const Tensor c = counts.to(r.probs.dtype());
  const Tensor assigned = sum(c), tokens = sum(rows);
  const Tensor f = c / where(greater(assigned, 0.5), assigned, 1.0);            // [E]
  const Tensor n = where(greater(tokens, 0.5), tokens, 1.0);
  const Tensor P = sum(r.probs * reshape(rows, {N, 1}), 0) / n;                  // [E]
  RouterLosses l;
  l.balance = sum(P * f) * (balance_coef * (double)E);
  l.z = sum(r.lse * r.lse * rows) / n * z_coef;
  return l;
}

namespace {

// The experts' outputs for the grouped rows xs [A, D] (kept[e] rows of expert e, in e order),
// each expert running on its rank: rows to owners, experts over what arrived, outputs back.
Tensor sharded_experts(const Tensor& xs, const std::vector<int32_t>& kept, const ExpertShards& sh,
                       const std::function<Tensor(int64_t expert, const Tensor& xe)>& expert) {
  const int W = sh.exchange->size(), me = sh.exchange->rank();
  const int64_t E = (int64_t)kept.size();
  DASG_CHECK((int64_t)sh.owner.size() == E, "run_experts: ", sh.owner.size(), " expert ranks for ", E, " experts");
  std::vector<int64_t> begin((size_t)E, 0);
  for (int64_t e = 1; e < E; ++e) begin[(size_t)e] = begin[(size_t)e - 1] + kept[(size_t)e - 1];
  // Rows and counts in the order of their experts' ranks; mine are the experts owned here.
  std::vector<int32_t> to_owner, counts;
  std::vector<int64_t> send((size_t)W, 0), counts_send((size_t)W, 0);
  std::vector<int64_t> mine;
  for (int p = 0; p < W; ++p)
    for (int64_t e = 0; e < E; ++e) {
      if (sh.owner[(size_t)e] != p) continue;
      for (int32_t i = 0; i < kept[(size_t)e]; ++i) to_owner.push_back((int32_t)begin[(size_t)e] + i);
      send[(size_t)p] += kept[(size_t)e];
      counts.push_back(kept[(size_t)e]);
      ++counts_send[(size_t)p];
      if (p == me) mine.push_back(e);
    }
  // What every rank sends here, per expert of mine: [W·|mine|] (rank-major), host metadata.
  std::vector<int64_t> counts_recv;
  const std::vector<int32_t> arriving =
      sh.exchange->exchange(Tensor::from_vector(counts, {(int64_t)counts.size(), 1}, kCPU), counts_send, counts_recv)
          .to_vector<int32_t>();
  const int64_t L = (int64_t)mine.size();
  DASG_CHECK((int64_t)arriving.size() == W * L, "run_experts: ", arriving.size(), " counts arrived; expected ", W * L);
  const Device dev = xs.device();
  const int64_t A = xs.size(0);
  Tensor sent = A > 0 ? index_select(xs, constant_tensor(to_owner, {A}, dev)) : xs;
  std::vector<int64_t> recv;
  const Tensor got = exchange_rows(sent, send, recv, sh.exchange);  // [R, D], by source rank, then my experts
  const int64_t R = got.size(0);
  // Nothing arrived: the (empty) rows go back as they came, keeping the graph whole, in the experts'
  // output dtype (f32 for bf16 rows under mixed precision, so every rank returns the same dtype).
  Tensor ys = got.dtype() == DType::bf16 ? cast(got, DType::f32) : got;
  if (R > 0) {
    // Regroup by expert (source-major → expert-major), run each, and put the outputs back in arrival order.
    std::vector<int64_t> at((size_t)(W * L), 0);
    for (int64_t k = 1; k < W * L; ++k) at[(size_t)k] = at[(size_t)k - 1] + arriving[(size_t)k - 1];
    std::vector<int32_t> by_expert, back((size_t)R);
    std::vector<Tensor> outs;
    for (int64_t j = 0; j < L; ++j)
      for (int p = 0; p < W; ++p)
        for (int32_t i = 0; i < arriving[(size_t)(p * L + j)]; ++i) {
          const int64_t row = at[(size_t)(p * L + j)] + i;
          back[(size_t)row] = (int32_t)by_expert.size();
          by_expert.push_back((int32_t)row);
        }
    const Tensor xr = index_select(got, constant_tensor(by_expert, {R}, dev));
    int64_t start = 0;
    for (int64_t j = 0; j < L; ++j) {
      int64_t n = 0;
      for (int p = 0; p < W; ++p) n += arriving[(size_t)(p * L + j)];
      if (n > 0) outs.push_back(expert(mine[(size_t)j], n == R ? xr : slice(xr, 0, start, n)));
      start += n;
    }
    const Tensor y = outs.size() == 1 ? outs[0] : concat(outs, 0);
    ys = index_select(y, constant_tensor(back, {R}, dev));
  }
  std::vector<int64_t> returned;
  const Tensor out = exchange_rows(ys, recv, returned, sh.exchange);  // [A, D], in the order sent
  if (A == 0) return out;
  std::vector<int32_t> from_owner((size_t)A);
  for (int64_t i = 0; i < A; ++i) from_owner[(size_t)to_owner[(size_t)i]] = (int32_t)i;
  return index_select(out, constant_tensor(from_owner, {A}, dev));
}

}  // namespace

Tensor run_experts(const Tensor& base, const Tensor& x, const Tensor& rows, const Tensor& slots,
                   const std::vector<int32_t>& kept, const Tensor& weights,
                   const std::function<Tensor(int64_t expert, const Tensor& xe)>& expert,
                   const ExpertShards* shards) {
  const int64_t A = std::accumulate(kept.begin(), kept.end(), (int64_t)0);
  if (shards && shards->exchange) {
    // Every rank takes part in both exchanges, even with no row of its own.
    const Tensor idx = A > 0 ? slice(rows, 0, 0, A) : Tensor();
    const Tensor xs = A > 0 ? index_select(x, idx) : Tensor::zeros({0, x.size(1)}, x.dtype(), x.device());
    const Tensor ys = sharded_experts(xs, kept, *shards, expert);
    if (A == 0) return base + sum(ys) * 0.0;  // the returned (empty) rows stay in the graph
    const Tensor w = index_select(weights, slice(slots, 0, 0, A));
    return index_add(base, idx, ys * w);
  }
  if (A == 0) return base;
  const Tensor idx = slice(rows, 0, 0, A);
  const Tensor xs = index_select(x, idx);  // [A, D], grouped by expert
  std::vector<Tensor> outs;
  int64_t begin = 0;
  for (size_t e = 0; e < kept.size(); ++e) {
    const int64_t n = kept[e];
    if (n > 0) outs.push_back(expert((int64_t)e, n == A ? xs : slice(xs, 0, begin, n)));
    begin += n;
  }
  const Tensor ys = outs.size() == 1 ? outs[0] : concat(outs, 0);
  const Tensor w = index_select(weights, slice(slots, 0, 0, A));  // [A, 1]
  return index_add(base, idx, ys * w);
}

}  // namespace dasg
