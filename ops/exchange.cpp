// exchange_rows (see exchange.hpp):
//   y = exchange(x; send → recv)      dx = exchange(dy; recv → send)
#include "ops/exchange.hpp"

#include "autograd/node.hpp"
#include "engine/error.hpp"
#include "engine/profiler.hpp"

namespace dasg {

namespace {

struct ExchangeRowsBackward : Node {
  std::vector<int64_t> send, recv;
  std::shared_ptr<RowExchange> exchange;
  const char* name() const override { return "exchange_rows"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    std::vector<int64_t> back;
    Tensor gx = exchange->exchange(g, recv, back);  // a collective: made even when input 0 needs none
    DASG_CHECK(back == send, "exchange_rows backward: the peers returned other row counts than they were sent");
    return {needs(0) ? gx : Tensor()};
  }
};

}  // namespace

Tensor exchange_rows(const Tensor& x, const std::vector<int64_t>& send_counts, std::vector<int64_t>& recv_counts,
                     const std::shared_ptr<RowExchange>& exchange) {
  DASG_PROFILE_OP("exchange_rows");
  DASG_CHECK(exchange, "exchange_rows: no RowExchange");
  DASG_CHECK((int)send_counts.size() == exchange->size(), "exchange_rows: ", send_counts.size(), " send counts for ",
             exchange->size(), " ranks");
  Tensor y = exchange->exchange(x, send_counts, recv_counts);
  if (grad_enabled()) {
    auto n = std::make_shared<ExchangeRowsBackward>();
    n->send = send_counts;
    n->recv = recv_counts;
    n->exchange = exchange;
    attach(y, n, {x});
  }
  return y;
}

}  // namespace dasg
