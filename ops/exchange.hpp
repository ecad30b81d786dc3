// Rows exchanged between the ranks of a run, as an op: what expert parallelism (model/experts.hpp)
// sends tokens to their experts' ranks and the outputs back with.
//   y = exchange_rows(x, send, recv):  x [Σ send, ...] holds send[r] consecutive rows for rank r,
//       in rank order; y [Σ recv, ...] the rows every rank sent here, in rank order.
//   backward: dx = the reverse exchange of dy (recv[r] rows back to rank r, send[r] from it).
// The transport is a RowExchange, an interface implemented above the ops (train/ adapts the
// dist::Communicator), so ops know no process layer. Every rank must call the op, and run its
// backward, in the same order (a collective): the op records its node whenever grad mode is on,
// even for an input without gradient, so every rank's backward makes the reverse exchange.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/tensor.hpp"

namespace dasg {

class RowExchange {
 public:
  virtual ~RowExchange() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Not differentiable: the transport itself (the tensors may be on any device).
  virtual Tensor exchange(const Tensor& rows, const std::vector<int64_t>& send_counts,
                          std::vector<int64_t>& recv_counts) = 0;
};

// Differentiable (above); recv_counts is filled.
Tensor exchange_rows(const Tensor& x, const std::vector<int64_t>& send_counts, std::vector<int64_t>& recv_counts,
                     const std::shared_ptr<RowExchange>& exchange);

}  // namespace dasg
