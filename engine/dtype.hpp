// DType: the element types a tensor can hold, their sizes and names, and a helper
// that turns a runtime dtype into a compile-time C++ type for a kernel.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/error.hpp"

namespace dasg {

enum class DType : uint8_t { f32, f64, i32 };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i32: return 4;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i32: return "i32";
  }
  return "?";
}

inline bool is_floating(DType t) { return t == DType::f32 || t == DType::f64; }

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }

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

// As dispatch_float, and i32 as well.
template <class F>
decltype(auto) dispatch_all(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::f32: return f.template operator()<float>();
    case DType::f64: return f.template operator()<double>();
    case DType::i32: return f.template operator()<int32_t>();
  }
  DASG_FAIL(op, ": unknown dtype");
}

}  // namespace dasg
