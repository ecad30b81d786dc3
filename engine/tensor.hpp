// Tensor: a shared handle to (Storage, offset, shape, dtype, device) plus the autograd fields
// (requires_grad, grad, grad_fn). Tensors are contiguous row-major; copying a Tensor copies
// the handle, not the data (use clone() for that).
//
// The autograd fields are only stored here; the graph lives in autograd/ (Node, backward).
// Tensor::backward is declared here and defined in autograd/backward.cpp.
#pragma once
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "engine/allocator.hpp"
#include "engine/dtype.hpp"
#include "engine/error.hpp"
#include "engine/shape.hpp"

namespace dasg {

struct Node;  // autograd/node.hpp
class Generator;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements, into storage
  Shape shape;
  DType dtype = DType::f32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient of a leaf
  std::shared_ptr<Node> grad_fn;     // the op that made this tensor (null for leaves)
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- construction -------------------------------------------------------
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = kCPU);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = kCPU);
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = kCPU);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32, Device device = kCPU);
  static Tensor scalar(double value, DType dtype = DType::f32, Device device = kCPU);
  template <class T>
  static Tensor from_vector(const std::vector<T>& v, const Shape& shape, Device device = kCPU);
  // 0, 1, ..., n-1 as i32
  static Tensor arange(int64_t n, Device device = kCPU);
  // Uniform in [lo, hi) / normal(mean, std) from the generator (same numbers on every thread count).
  static Tensor rand(const Shape& shape, Generator& gen, double lo = 0, double hi = 1, DType dtype = DType::f32);
  static Tensor randn(const Shape& shape, Generator& gen, double mean = 0, double std = 1, DType dtype = DType::f32);

  // ---- metadata -----------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  int64_t dim() const { return (int64_t)impl().shape.size(); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return dasg::numel(impl().shape); }
  size_t nbytes() const { return (size_t)numel() * dtype_size(dtype()); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device; }
  std::string str() const;  // "f32[2, 3] on cpu", for error messages

  // ---- data ---------------------------------------------------------------
  template <class T> T* data();
  template <class T> const T* data() const;
  void* raw_data() const;
  template <class T> std::vector<T> to_vector() const;  // copies to the host
  double item() const;                                  // the value of a one-element tensor

  // ---- copies and moves (no autograd) ---------------------------------------
  Tensor clone() const;                // same device and dtype, fresh storage
  Tensor to(Device device) const;      // a copy on `device` (this tensor if already there)
  // Moves this tensor's storage to `device` in place, so every handle sharing this tensor sees
  // it there (Model::to moves its parameters so). A leaf only; its gradient is dropped.
  void move_to_(Device device);
  // Frees this leaf's storage in place, keeping its shape, dtype and device, so every handle
  // sharing it sees it released (expert parallelism drops other ranks' experts so,
  // train/expert_parallel.hpp); reading a released tensor's data throws. hold_() gives it fresh
  // zeroed storage again (a no-op on a tensor that holds its data). Its gradient is dropped.
  void release_();
  void hold_();
  bool released() const { return impl().storage->data == nullptr && numel() > 0; }
  Tensor to(DType dtype) const;        // a converted copy (this tensor if same dtype)
  void copy_from(const Tensor& src);   // same shape and dtype, any devices
  void fill_(double value);
  void zero_() { fill_(0); }

  // ---- autograd -----------------------------------------------------------
  bool requires_grad() const { return impl().requires_grad; }
  // Only leaves may change this: freezing (false) or marking a parameter (true).
  Tensor& requires_grad_(bool on = true);
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  Tensor grad() const { return Tensor(impl().grad); }
  void set_grad(const Tensor& g);
  void zero_grad() { impl().grad.reset(); }
  const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }
  // Same storage, cut from the graph.
  Tensor detach() const;
  // Same storage seen with another shape of the same element count, cut from the graph
  // (kernel plumbing; the differentiable reshape is in ops/shape.hpp).
  Tensor view(const Shape& shape) const;
  // Reverse-mode differentiation from this tensor (defined in autograd/backward.cpp).
  // grad defaults to 1 for a one-element tensor; retain_graph keeps saved tensors for a second pass.
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;

  TensorImpl& impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// ---- template definitions --------------------------------------------------

template <class T>
T* Tensor::data() {
  DASG_CHECK(dtype() == dtype_of<T>(), "Tensor::data: tensor is ", str(), ", asked for ", dtype_name(dtype_of<T>()));
  return static_cast<T*>(raw_data());
}

template <class T>
const T* Tensor::data() const {
  return const_cast<Tensor*>(this)->data<T>();
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& v, const Shape& shape, Device device) {
  DASG_CHECK((int64_t)v.size() == dasg::numel(shape), "Tensor::from_vector: ", v.size(), " values for shape ",
             shape_str(shape), " (", dasg::numel(shape), " elements)");
  Tensor t = empty(shape, dtype_of<T>(), device);
  copy_bytes(t.raw_data(), device, v.data(), kCPU, v.size() * sizeof(T));
  return t;
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  DASG_CHECK(dtype() == dtype_of<T>(), "Tensor::to_vector: tensor is ", str(), ", asked for ",
             dtype_name(dtype_of<T>()));
  std::vector<T> v((size_t)numel());
  copy_bytes(v.data(), kCPU, raw_data(), device(), v.size() * sizeof(T));
  return v;
}

// Checks shared by the ops: same device, floating dtype, same dtype.
void check_same_device(const char* op, const Tensor& a, const Tensor& b);
void check_same_dtype(const char* op, const Tensor& a, const Tensor& b);
void check_floating(const char* op, const Tensor& a);

}  // namespace dasg
