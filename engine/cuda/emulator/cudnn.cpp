// CUDA emulator: cuDNN softmax by plain loops. A softmax "row" is the set of elements one
// normalisation runs over: C*H*W contiguous values (INSTANCE), or C values strided by H*W
// (CHANNEL). Sums are kept in double, as cuDNN's reductions are more accurate than a naive float sum.
#include "engine/cuda/emulator/cudnn.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>

struct cudnnContext {
  cudaStream_t stream = nullptr;
};
struct cudnnTensorStruct {
  bool set = false;
  cudnnTensorFormat_t format = CUDNN_TENSOR_NCHW;
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  int n = 0, c = 0, h = 0, w = 0;
};

namespace {

bool same_shape(const cudnnTensorStruct& a, const cudnnTensorStruct& b) {
  return a.n == b.n && a.c == b.c && a.h == b.h && a.w == b.w;
}

// Checks shared by forward and backward; `descs` are the tensors that must match descs[0].
cudnnStatus_t check(cudnnHandle_t handle, int algo, int mode, const void* alpha, const void* beta,
                    std::initializer_list<const cudnnTensorStruct*> descs, std::initializer_list<const void*> data) {
  if (!handle) return CUDNN_STATUS_BAD_PARAM;
  if (!alpha || !beta) return CUDNN_STATUS_BAD_PARAM_NULL_POINTER;
  for (const void* p : data)
    if (!p) return CUDNN_STATUS_BAD_PARAM_NULL_POINTER;
  if (algo < CUDNN_SOFTMAX_FAST || algo > CUDNN_SOFTMAX_LOG || mode < CUDNN_SOFTMAX_MODE_INSTANCE ||
      mode > CUDNN_SOFTMAX_MODE_CHANNEL)
    return CUDNN_STATUS_BAD_PARAM;
  const cudnnTensorStruct* first = *descs.begin();
  for (const cudnnTensorStruct* d : descs) {
    if (!d || !d->set) return CUDNN_STATUS_BAD_PARAM;
    if (!same_shape(*d, *first) || d->type != first->type || d->format != first->format) return CUDNN_STATUS_BAD_PARAM;
  }
  if (first->type != CUDNN_DATA_FLOAT || first->format != CUDNN_TENSOR_NCHW) return CUDNN_STATUS_NOT_SUPPORTED;
  return CUDNN_STATUS_SUCCESS;
}

// Calls f(offset of the row's first element, element stride, row length) for every row.
template <class F>
void for_rows(const cudnnTensorStruct& d, cudnnSoftmaxMode_t mode, F f) {
  const long long hw = (long long)d.h * d.w;
  if (mode == CUDNN_SOFTMAX_MODE_INSTANCE) {
    for (long long n = 0; n < d.n; ++n) f(n * d.c * hw, 1LL, d.c * hw);
  } else {
    for (long long n = 0; n < d.n; ++n)
      for (long long p = 0; p < hw; ++p) f(n * d.c * hw + p, hw, (long long)d.c);
  }
}

// out = alpha * value + beta * out, not reading out when beta == 0.
void blend(float& out, float value, float alpha, float beta) {
  out = beta == 0.0f ? alpha * value : alpha * value + beta * out;
}

}  // namespace

const char* cudnnGetErrorString(cudnnStatus_t status) {
  switch (status) {
    case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
    case CUDNN_STATUS_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
    case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
    case CUDNN_STATUS_BAD_PARAM_NULL_POINTER: return "CUDNN_STATUS_BAD_PARAM_NULL_POINTER";
    case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
    case CUDNN_STATUS_INTERNAL_ERROR: return "CUDNN_STATUS_INTERNAL_ERROR";
    case CUDNN_STATUS_EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
  }
  return "CUDNN_UNKNOWN_STATUS_FOUND";
}

cudnnStatus_t cudnnCreate(cudnnHandle_t* handle) {
  if (!handle) return CUDNN_STATUS_BAD_PARAM;
  *handle = new cudnnContext;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroy(cudnnHandle_t handle) {
  delete handle;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t stream) {
  if (!handle) return CUDNN_STATUS_BAD_PARAM;
  handle->stream = stream;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* desc) {
  if (!desc) return CUDNN_STATUS_BAD_PARAM;
  *desc = new cudnnTensorStruct;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t desc) {
  delete desc;
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t desc, cudnnTensorFormat_t format,
                                         cudnnDataType_t type, int n, int c, int h, int w) {
  if (!desc || n <= 0 || c <= 0 || h <= 0 || w <= 0) return CUDNN_STATUS_BAD_PARAM;
  if (format < CUDNN_TENSOR_NCHW || format > CUDNN_TENSOR_NCHW_VECT_C || type < CUDNN_DATA_FLOAT ||
      type > CUDNN_DATA_HALF)
    return CUDNN_STATUS_BAD_PARAM;
  *desc = cudnnTensorStruct{true, format, type, n, c, h, w};
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSoftmaxForward(cudnnHandle_t handle, cudnnSoftmaxAlgorithm_t algo, cudnnSoftmaxMode_t mode,
                                  const void* alpha, const cudnnTensorDescriptor_t xDesc, const void* x,
                                  const void* beta, const cudnnTensorDescriptor_t yDesc, void* y) {
  if (cudnnStatus_t s = check(handle, algo, mode, alpha, beta, {xDesc, yDesc}, {x, y})) return s;
  const float a = *static_cast<const float*>(alpha), b = *static_cast<const float*>(beta);
  const float* in = static_cast<const float*>(x);
  float* out = static_cast<float*>(y);
  for_rows(*xDesc, mode, [&](long long off, long long stride, long long len) {
    float shift = 0.0f;
    if (algo != CUDNN_SOFTMAX_FAST) {
      shift = -INFINITY;
      for (long long i = 0; i < len; ++i) shift = std::max(shift, in[off + i * stride]);
    }
    double sum = 0.0;
    for (long long i = 0; i < len; ++i) sum += std::exp(in[off + i * stride] - shift);
    for (long long i = 0; i < len; ++i) {
      const float v = in[off + i * stride] - shift;
      blend(out[off + i * stride], algo == CUDNN_SOFTMAX_LOG ? v - float(std::log(sum)) : float(std::exp(v) / sum), a, b);
    }
  });
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSoftmaxBackward(cudnnHandle_t handle, cudnnSoftmaxAlgorithm_t algo, cudnnSoftmaxMode_t mode,
                                   const void* alpha, const cudnnTensorDescriptor_t yDesc, const void* y,
                                   const cudnnTensorDescriptor_t dyDesc, const void* dy, const void* beta,
                                   const cudnnTensorDescriptor_t dxDesc, void* dx) {
  if (cudnnStatus_t s = check(handle, algo, mode, alpha, beta, {yDesc, dyDesc, dxDesc}, {y, dy, dx})) return s;
  const float a = *static_cast<const float*>(alpha), b = *static_cast<const float*>(beta);
  const float* yv = static_cast<const float*>(y);
  const float* g = static_cast<const float*>(dy);
  float* out = static_cast<float*>(dx);
  for_rows(*yDesc, mode, [&](long long off, long long stride, long long len) {
    double sum = 0.0;  // sum(dy * y), or sum(dy) for LOG
    for (long long i = 0; i < len; ++i) {
      const long long j = off + i * stride;
      sum += algo == CUDNN_SOFTMAX_LOG ? g[j] : double(g[j]) * yv[j];
    }
    for (long long i = 0; i < len; ++i) {
      const long long j = off + i * stride;
      const float v = algo == CUDNN_SOFTMAX_LOG ? g[j] - std::exp(yv[j]) * float(sum) : yv[j] * (g[j] - float(sum));
      blend(out[j], v, a, b);
    }
  });
  return CUDNN_STATUS_SUCCESS;
}
