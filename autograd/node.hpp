// The autograd graph. An op whose inputs require grad records a Node: what its backward needs
// (`saved`, plus plain members for sizes and flags) and one Edge per input, pointing at the
// input's own Node or, for a leaf, at the leaf tensor whose .grad receives the gradient.
//
//   Tensor y = ...;                                    // forward result
//   if (needs_grad({a, b})) {
//     auto n = std::make_shared<MulBackward>();
//     n->saved = {a, b};                               // released after backward
//     attach(y, n, {a, b});
//   }
#pragma once
#include <functional>
#include <initializer_list>
#include <memory>
#include <vector>

#include "engine/tensor.hpp"

namespace dasg {

struct Edge {
  std::shared_ptr<Node> fn;            // the input's grad_fn, or
  std::shared_ptr<TensorImpl> leaf;    // the input itself, a leaf that requires grad
  bool defined() const { return fn || leaf; }
};

struct Node {
  std::vector<Edge> next;     // one per input of the op, in order
  std::vector<Tensor> saved;  // tensors the backward reads; dropped after backward
  bool released = false;

  virtual ~Node() = default;
  virtual const char* name() const = 0;
  // dL/d(output) -> dL/d(input k) for every input; an undefined Tensor where input k needs none.
  virtual std::vector<Tensor> backward(const Tensor& grad) = 0;
  // Whether input k needs a gradient (skip computing the others).
  bool needs(size_t k) const { return k < next.size() && next[k].defined(); }
};

// ---- grad mode: recording on or off (thread-local, like PyTorch) --------------
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// True when grad mode is on and some input requires grad: the op must record a Node.
bool needs_grad(std::initializer_list<Tensor> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);
// Makes `node` the grad_fn of `out` with one edge per input.
void attach(Tensor& out, std::shared_ptr<Node> node, const std::vector<Tensor>& inputs);

// root.backward(grad, retain_graph), calling on_final(leaf) for every leaf of the graph as soon
// as its .grad is final for this backward (the last node with an edge to it has run, or was
// skipped because no gradient reached it), in that order: what lets a caller start reducing a
// gradient while the backward goes on (train/data_parallel.hpp). The hook must not change the
// graph; it may read the leaf's .grad.
using LeafHook = std::function<void(const Tensor& leaf)>;
void backward_with_hook(const Tensor& root, const Tensor& grad, bool retain_graph, const LeafHook& on_final);

}  // namespace dasg
