// DecodeState: what incremental generation carries from one token to the next, for B sequences
// (DESIGN §7.2; issue 15). A causal model's position t needs, per layer,
//   - the keys and values of the positions it may attend to: at most w of them, all in t's group
//     (gmha, local), or every earlier position of the context (full: at most max_seq_len);
//   - gmha with aggregation: Σ u' over the positions of t's group so far, and the aggregation keys
//     and values k_g = m_g·W_akᵀ + b_ak, v_g = m_g·W_avᵀ + b_av of the completed groups g < g(t)
//     (at most G of them);
//   - nothing for the FFN: the evaluator's C and I come from t's own attention row, the running
//     statistics are frozen, and every FFN kind routes a token alone (Switch without capacity).
// So the state has a fixed size, set at creation from the config and B, whatever the number of
// tokens generated: its tensors are allocated once and replaced by tensors of the same shapes.
//
// Layouts (device tensors of the model's dtype; row r of a [rows, d] tensor):
//   keys, values  [B·H·cap, d]  row (b·H + h)·cap + (p mod cap): head h of position p of sequence b,
//                               a ring of cap = w (gmha, local) or max_seq_len (full) slots.
//   group_sum     [B, D]        Σ u'_p over p in g(t)'s group, p < t.
//   agg_keys, agg_values [B·H·G, d]  row (b·H + h)·G + g: head h of completed group g's k_g, v_g.
// The host side: `next[b]`, the context position sequence b's next token takes (its context
// length so far); positions are per sequence, so sequences of different lengths share the state
// without any padding.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.hpp"

namespace dasg {

struct LayerDecodeState {
  Tensor keys, values;          // [B·H·cap, d]
  Tensor group_sum;             // [B, D] (gmha with aggregation only)
  Tensor agg_keys, agg_values;  // [B·H·G, d] (gmha with aggregation only)
};

struct DecodeState {
  int64_t batch = 0;          // B sequences
  int64_t cap = 0;            // key slots per sequence and head
  std::vector<int64_t> next;  // [B]: context position of each sequence's next token
  std::vector<LayerDecodeState> layers;
  // Bytes held by the state's tensors (fixed at creation).
  size_t nbytes() const;
};

}  // namespace dasg
