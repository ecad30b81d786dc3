// The backward pass: order the graph under the root topologically, then run each Node's
// backward once, summing gradients that reach a node by several paths, and accumulate into
// the .grad of leaves. Saved tensors are dropped as soon as a node has run (unless
// retain_graph), so a second backward through the same graph is a clear error.
#include <unordered_map>

#include "autograd/node.hpp"
#include "engine/profiler.hpp"
#include "engine/kernels/accumulate.hpp"

namespace dasg {

namespace {
thread_local bool t_grad_enabled = true;

// Reverse postorder of the nodes reachable from root (iterative: graphs can be deep).
std::vector<Node*> topological_order(Node* root) {
  std::vector<Node*> order;
  std::unordered_map<Node*, bool> visited;
  std::vector<std::pair<Node*, size_t>> stack{{root, 0}};
  visited[root] = true;
  while (!stack.empty()) {
    auto& [node, next_edge] = stack.back();
    if (next_edge < node->next.size()) {
      Node* child = node->next[next_edge++].fn.get();
      if (child && !visited[child]) {
        visited[child] = true;
        stack.push_back({child, 0});
      }
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  return {order.rbegin(), order.rend()};
}

// A node's incoming gradient: the first arrival is kept as is; later ones are summed
// out of place, since the first may be shared with other edges.
// The gradient summed for one node. The first arrival is kept as it came (a backward may hand the
// same tensor to several inputs, add's does); the second is added into a copy, which the slot then
// owns, so later arrivals add in place (one copy per node, not one per arrival).
struct GradSlot {
  Tensor sum;
  bool owned = false;
};

void accumulate_into(GradSlot& slot, const Tensor& g) {
  if (!slot.sum.defined()) {
    slot.sum = g;
    return;
  }
  if (!slot.owned) {
    slot.sum = slot.sum.clone();
    slot.owned = true;
  }
  kernels::accumulate(slot.sum, g);
}

// A leaf's .grad is owned (optimizers and clipping update it in place), so the first
// arrival is copied and later ones are added in place.
void accumulate_leaf(TensorImpl& leaf, const Tensor& g) {
  if (!leaf.grad) {
    leaf.grad = g.detach().clone().impl_ptr();
    return;
  }
  Tensor slot(leaf.grad);
  kernels::accumulate(slot, g);
}
}  // namespace

bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : prev_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = prev_; }

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}
bool needs_grad(std::initializer_list<Tensor> inputs) { return needs_grad(std::vector<Tensor>(inputs)); }

void attach(Tensor& out, std::shared_ptr<Node> node, const std::vector<Tensor>& inputs) {
  node->next.clear();
  for (const Tensor& t : inputs) {
    Edge e;
    if (t.defined() && t.requires_grad()) {
      if (t.grad_fn())
        e.fn = t.grad_fn();
      else
        e.leaf = t.impl_ptr();
    }
    node->next.push_back(std::move(e));
  }
  out.impl().grad_fn = std::move(node);
  out.impl().requires_grad = true;
}

void Tensor::backward(const Tensor& grad_in, bool retain_graph) const {
  backward_with_hook(*this, grad_in, retain_graph, {});
}

void backward_with_hook(const Tensor& root, const Tensor& grad_in, bool retain_graph, const LeafHook& on_final) {
  const Tensor& self = root;
  DASG_CHECK(self.requires_grad(), "backward: ", self.str(), " does not require grad; none of its inputs requires "
             "grad, or it was computed under no_grad");
  Tensor grad = grad_in;
  if (!grad.defined()) {
    DASG_CHECK(self.numel() == 1, "backward: ", self.str(), " is not a scalar; pass the gradient of the output "
               "explicitly (expected a one-element tensor for an implicit gradient of 1)");
    grad = Tensor::ones(self.shape(), self.dtype(), self.device());
  }
  DASG_CHECK(grad.shape() == self.shape() && grad.dtype() == self.dtype() && grad.device() == self.device(),
             "backward: gradient ", grad.str(), " does not match the output ", self.str());

  NoGradGuard no_grad;  // backward formulas are not themselves recorded
  if (self.is_leaf()) {
    accumulate_leaf(self.impl(), grad);
    if (on_final) on_final(self);
    return;
  }
  std::unordered_map<Node*, GradSlot> grads;
  grads[self.grad_fn().get()].sum = grad;
  // Keep every node alive while we walk, even if releasing saved tensors drops the last owner.
  std::vector<Node*> order = topological_order(self.grad_fn().get());
  // With a hook: the nodes still to run that have an edge to each leaf.
  std::unordered_map<TensorImpl*, int64_t> pending;
  if (on_final)
    for (Node* node : order)
      for (const Edge& e : node->next)
        if (e.leaf) ++pending[e.leaf.get()];
  auto done_with = [&](Node* node) {
    if (!on_final) return;
    for (const Edge& e : node->next)
      if (e.leaf && --pending[e.leaf.get()] == 0) on_final(Tensor(e.leaf));
  };
  for (Node* node : order) {
    auto it = grads.find(node);
    if (it == grads.end()) {  // no gradient reached it
      done_with(node);
      continue;
    }
    Tensor g = std::move(it->second.sum);
    grads.erase(it);
    DASG_CHECK(!node->released, "backward: the graph through ", node->name(), " was already freed by an "
               "earlier backward; call backward(grad, /*retain_graph=*/true) the first time to go through it twice");
    std::vector<Tensor> in_grads;
    {
      profiler::Scope prof(node->name(), profiler::backward);  // engine/profiler.hpp; off: one branch
      in_grads = node->backward(g);
    }
    DASG_CHECK(in_grads.size() == node->next.size(), "backward: ", node->name(), " returned ", in_grads.size(),
               " gradients for ", node->next.size(), " inputs");
    if (!retain_graph) {
      node->saved.clear();
      node->released = true;
    }
    for (size_t k = 0; k < in_grads.size(); ++k) {
      const Edge& e = node->next[k];
      if (!e.defined() || !in_grads[k].defined()) continue;
      profiler::Scope prof("grad_accumulate", profiler::backward);
      if (e.fn)
        accumulate_into(grads[e.fn.get()], in_grads[k]);
      else
        accumulate_leaf(*e.leaf, in_grads[k]);
    }
    done_with(node);
  }
}

}  // namespace dasg
