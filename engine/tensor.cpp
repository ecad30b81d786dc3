// Tensor construction, copies between devices and dtypes, and the leaf-side autograd fields.
#include "engine/tensor.hpp"

#include "engine/kernels/fill.hpp"
#include "engine/kernels/random.hpp"

namespace dasg {

TensorImpl& Tensor::impl() const {
  DASG_CHECK(impl_ != nullptr, "Tensor: use of an undefined tensor (default-constructed or an absent gradient)");
  return *impl_;
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  DASG_CHECK((int)shape.size() <= kMaxDims, "Tensor::empty: shape ", shape_str(shape), " has ", shape.size(),
             " dims; expected at most ", kMaxDims);
  for (int64_t d : shape)
    DASG_CHECK(d >= 0, "Tensor::empty: negative dimension in shape ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>((size_t)dasg::numel(shape) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  kernels::fill(t, value);
  return t;
}
Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0, dtype, device); }
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1, dtype, device); }
Tensor Tensor::scalar(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

Tensor Tensor::arange(int64_t n, Device device) {
  std::vector<int32_t> v((size_t)n);
  for (int64_t i = 0; i < n; ++i) v[(size_t)i] = (int32_t)i;
  return from_vector(v, {n}, device);
}

Tensor Tensor::rand(const Shape& shape, Generator& gen, double lo, double hi, DType dtype) {
  Tensor t = empty(shape, dtype);
  kernels::uniform(t, gen, lo, hi);
  return t;
}

Tensor Tensor::randn(const Shape& shape, Generator& gen, double mean, double std, DType dtype) {
  Tensor t = empty(shape, dtype);
  kernels::normal(t, gen, mean, std);
  return t;
}

int64_t Tensor::size(int64_t d) const {
  int64_t n = dim();
  DASG_CHECK(d >= -n && d < n, "Tensor::size: dim ", d, " out of range for ", str());
  return shape()[(size_t)(d < 0 ? d + n : d)];
}

std::string Tensor::str() const {
  if (!defined()) return "undefined tensor";
  return std::string(dtype_name(dtype())) + shape_str(shape()) + " on " + device().str();
}

void* Tensor::raw_data() const {
  DASG_CHECK(!released(), "Tensor: ", str(), " is released (it holds no data here: another rank's expert under "
             "expert parallelism); hold_() it, or read it on the rank that holds it");
  return static_cast<char*>(impl().storage->data) + impl().offset * (int64_t)dtype_size(dtype());
}

double Tensor::item() const {
  DASG_CHECK(numel() == 1, "Tensor::item: tensor is ", str(), "; expected exactly one element");
  Tensor h = to(kCPU).to(DType::f64);
  return *h.data<double>();
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape(), dtype(), device());
  copy_bytes(t.raw_data(), device(), raw_data(), device(), nbytes());
  return t;
}

Tensor Tensor::to(Device d) const {
  if (device() == d) return *this;
  Tensor t = empty(shape(), dtype(), d);
  copy_bytes(t.raw_data(), d, raw_data(), device(), nbytes());
  return t;
}

void Tensor::move_to_(Device d) {
  DASG_CHECK(is_leaf(), "move_to_: ", str(), " is the output of an operation; only leaves move in place");
  if (device() == d) return;
  if (released()) {
    impl().storage = std::make_shared<Storage>(d);
    impl().grad.reset();
    return;
  }
  Tensor moved = to(d);
  DASG_CHECK(impl().offset == 0 && impl().storage->nbytes == nbytes(), "move_to_: ", str(),
             " is a view into a larger storage; move the tensor that owns it");
  impl().storage = moved.impl().storage;
  impl().grad.reset();
}

void Tensor::release_() {
  DASG_CHECK(is_leaf(), "release_: ", str(), " is the output of an operation; only leaves are released in place");
  DASG_CHECK(impl().offset == 0, "release_: ", str(), " is a view into a larger storage; release the tensor that owns it");
  impl().storage = std::make_shared<Storage>(device());
  impl().grad.reset();
}

void Tensor::hold_() {
  if (!released()) return;
  impl().storage = zeros(shape(), dtype(), device()).impl().storage;
}

Tensor Tensor::to(DType t) const {
  if (dtype() == t) return *this;
  Tensor out = empty(shape(), t, device());
  kernels::convert(*this, out);
  return out;
}

void Tensor::copy_from(const Tensor& src) {
  DASG_CHECK(shape() == src.shape() && dtype() == src.dtype(), "Tensor::copy_from: destination is ", str(),
             ", source is ", src.str(), "; expected the same shape and dtype");
  copy_bytes(raw_data(), device(), src.raw_data(), src.device(), nbytes());
}

void Tensor::fill_(double value) { kernels::fill(*this, value); }

Tensor& Tensor::requires_grad_(bool on) {
  DASG_CHECK(is_leaf(), "requires_grad_: ", str(), " is the output of an operation; only leaf tensors "
             "(parameters, inputs) can change requires_grad — use detach() to cut a result from the graph");
  DASG_CHECK(!on || is_floating(dtype()), "requires_grad_: ", str(), " is not floating point; only f32/f64 "
             "tensors can require gradients");
  impl().requires_grad = on;
  return *this;
}

void Tensor::set_grad(const Tensor& g) {
  if (g.defined())
    DASG_CHECK(g.shape() == shape() && g.dtype() == dtype() && g.device() == device(), "set_grad: gradient is ",
               g.str(), ", tensor is ", str(), "; expected the same shape, dtype and device");
  impl().grad = g.impl_ptr();
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset = impl_->offset;
  impl->shape = impl_->shape;
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::view(const Shape& s) const {
  DASG_CHECK(dasg::numel(s) == numel(), "view: cannot view ", str(), " as ", shape_str(s), " (",
             dasg::numel(s), " elements)");
  Tensor t = detach();
  t.impl().shape = s;
  return t;
}

void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  DASG_CHECK(a.device() == b.device(), op, ": operands on different devices: ", a.str(), " and ", b.str(),
             "; move one with .to(device) first");
}

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  DASG_CHECK(a.dtype() == b.dtype(), op, ": operands of different dtypes: ", a.str(), " and ", b.str(),
             "; expected the same dtype");
}

void check_floating(const char* op, const Tensor& a) {
  DASG_CHECK(is_floating(a.dtype()), op, ": ", a.str(), " is not floating point; expected f32 or f64");
}

}  // namespace dasg
