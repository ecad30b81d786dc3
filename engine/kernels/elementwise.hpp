// Elementwise kernels: binary ops with broadcasting, scalar ops, unary activations and their
// derivatives. Broadcasting follows NumPy: shapes are aligned on the right and a dimension of
// 1 (or a missing leading one) is repeated.
#pragma once
#include "engine/kernels/backend.hpp"

namespace dasg::kernels {

enum class BinaryOp : uint8_t { add, sub, mul, div };
enum class UnaryOp : uint8_t { neg, exp, log, sqrt, tanh, sigmoid, relu, gelu, silu };
const char* unary_name(UnaryOp op);
const char* binary_name(BinaryOp op);

// The broadcast shape of a and b, or an error naming the op and both shapes.
Shape broadcast_shape(const char* op, const Shape& a, const Shape& b);

// out = a op b (out has the broadcast shape).
void binary_cpu(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out);
// out = x op s   (s a host scalar; sub and div with the scalar on the right)
void binary_scalar_cpu(BinaryOp op, const Tensor& x, double s, Tensor& out);
// y = f(x)
void unary_cpu(UnaryOp op, const Tensor& x, Tensor& y);
// gx = gy · f'(x), using y = f(x) where cheaper
void unary_backward_cpu(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy, Tensor& gx);

DASG_DECLARE_CUDA(void binary_cuda(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out);)
DASG_DECLARE_CUDA(void binary_scalar_cuda(BinaryOp op, const Tensor& x, double s, Tensor& out);)
DASG_DECLARE_CUDA(void unary_cuda(UnaryOp op, const Tensor& x, Tensor& y);)
DASG_DECLARE_CUDA(void unary_backward_cuda(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy, Tensor& gx);)

inline void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) { DASG_BACKEND(out, binary, op, a, b, out); }
inline void binary_scalar(BinaryOp op, const Tensor& x, double s, Tensor& out) { DASG_BACKEND(out, binary_scalar, op, x, s, out); }
inline void unary(UnaryOp op, const Tensor& x, Tensor& y) { DASG_BACKEND(y, unary, op, x, y); }
inline void unary_backward(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy, Tensor& gx) {
  DASG_BACKEND(gx, unary_backward, op, x, y, gy, gx);
}

// The per-element math, shared by the CPU loops and the CUDA kernels.
template <class T>
struct UnaryMath {
  static constexpr T kGeluC = T(0.7978845608028654);  // √(2/π)
  static constexpr T kGeluA = T(0.044715);
};

}  // namespace dasg::kernels
