// DType: the element types a tensor can hold, their sizes and names, and a helper
// that turns a runtime dtype into a compile-time C++ type for a kernel.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/bf16.hpp"
#include "engine/error.hpp"

namespace dasg {

// bf16 is storage only (CUDA tensors of mixed precision, and their CPU copies): kernels that
// compute take f32 or f64 (dispatch_float), and say so for bf16.
enum class DType : uint8_t { f32, f64, i32, bf16 };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i32: return 4;
    case DType::bf16: return 2;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i32: return "i32";
    case DType::bf16: return "bf16";
  }
  return "?";
}

inline bool is_floating(DType t) { return t == DType::f32 || t == DType::f64; }

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<bf16>() { return DType::bf16; }

// dispatch_float(dtype, "op", [&]<class T>() { ... }) runs the lambda with T = float or double,
// and throws for any other dtype, naming the op.
template <class F>
decltype(auto) dispatch_float(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::f32: return f.template operator()<float>();
    case DType::f64: return f.template operator()<double>();
    default: DASG_FAIL(op, ": dtype ", dtype_name(t), " is not supported; expected f32 or f64");
  }
}

// As dispatch_float, and i32 as well (bf16 is not: its arithmetic kernels are written for it, see
// bf16.hpp; dispatch_storage below takes it for data movement).
template <class F>
decltype(auto) dispatch_all(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::f32: return f.template operator()<float>();
    case DType::f64: return f.template operator()<double>();
    case DType::i32: return f.template operator()<int32_t>();
    default: DASG_FAIL(op, ": dtype ", dtype_name(t), " is not supported; expected f32, f64 or i32");
  }
}

// As dispatch_all, and bf16 as well (T = dasg::bf16), for kernels that move elements without
// arithmetic (gathers, copies, permutes): a bf16 element is its 2 bytes.
template <class F>
decltype(auto) dispatch_storage(DType t, const char* op, F&& f) {
  if (t == DType::bf16) return f.template operator()<bf16>();
  return dispatch_all(t, op, static_cast<F&&>(f));
}

}  // namespace dasg
