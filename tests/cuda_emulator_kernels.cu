// Kernels for tests/test_cuda_emulator.cpp, with host wrappers that copy in, launch and copy
// out. Some are correct (reductions, warp ops); some break the CUDA execution model on purpose
// (divergent barriers, mismatched warp masks, a non-atomic inter-block race) so the tests can
// check that the emulator reports them. Compiled as C++ against the emulator, and natively by nvcc
// (compile only: the broken kernels are never run on a GPU).
// -DDASG_EMU_TEETH_DROP_SYNC removes the __syncthreads() between the shared-memory stores and the
// tree reduction in block_reduce_kernel, so the ThreadSanitizer build reports the race.
// -DDASG_EMU_TEETH_OVERRUN turns iota_kernel's bound i < n into i <= n, so it writes out[n], one
// element past the buffer, and the AddressSanitizer build reports a heap-buffer-overflow there.
#include <vector>

#include "engine/cuda/cuda_compat.cuh"
#include "engine/cuda/launch.cuh"

namespace emu_test {
namespace {

using dasg::cuda::launch;

template <class T>
struct DeviceBuffer {
  explicit DeviceBuffer(size_t n) : n(n) { DASG_CUDA_CHECK(cudaMalloc(&ptr, n * sizeof(T))); }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) {
    DASG_CUDA_CHECK(cudaMemcpy(ptr, host.data(), n * sizeof(T), cudaMemcpyHostToDevice));
  }
  ~DeviceBuffer() { cudaFree(ptr); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void zero() { DASG_CUDA_CHECK(cudaMemset(ptr, 0, n * sizeof(T))); }
  std::vector<T> host() const {
    std::vector<T> out(n);
    DASG_CUDA_CHECK(cudaMemcpy(out.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost));
    return out;
  }
  T* ptr = nullptr;
  size_t n;
};

// Each block sums blockDim.x (a power of 2, <= 256) elements in shared memory.
__global__ void block_reduce_kernel(const float* x, float* out, int n) {
  DASG_SHARED(float, buf, 256);
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  buf[threadIdx.x] = i < n ? x[i] : 0.0f;
#ifndef DASG_EMU_TEETH_DROP_SYNC
  __syncthreads();
#endif
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (int(threadIdx.x) < stride) buf[threadIdx.x] += buf[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = buf[0];
}

// The same with dynamic shared memory: blockDim.x floats, the rest of the buffer written and read
// back so every requested byte is touched.
__global__ void dynamic_reduce_kernel(const float* x, float* out, int n, int shared_floats) {
  DASG_DYNAMIC_SHARED(float, buf);
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  for (int j = threadIdx.x; j < shared_floats; j += blockDim.x) buf[j] = 0.0f;
  __syncthreads();
  buf[threadIdx.x] = i < n ? x[i] : 0.0f;
  __syncthreads();
  if (threadIdx.x == 0) {
    float sum = 0.0f;
    for (int j = 0; j < shared_floats; ++j) sum += buf[j];
    out[blockIdx.x] = sum;
  }
}

// out = in^T for an n x n matrix, through a padded 2-D shared tile (one 8 x 8 block per tile).
__global__ void transpose_kernel(const float* in, float* out, int n) {
  DASG_SHARED2(float, tile, 8, 9);
  const int x = blockIdx.x * 8 + threadIdx.x, y = blockIdx.y * 8 + threadIdx.y;
  if (x < n && y < n) tile[threadIdx.y][threadIdx.x] = in[y * n + x];
  __syncthreads();
  const int tx = blockIdx.y * 8 + threadIdx.x, ty = blockIdx.x * 8 + threadIdx.y;
  if (tx < n && ty < n) out[ty * n + tx] = tile[threadIdx.x][threadIdx.y];
}

__global__ void warp_reduce_kernel(const float* x, float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  float v = i < n ? x[i] : 0.0f;
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  if (threadIdx.x % 32 == 0) atomicAdd(out, v);
}

// One warp: results[k * 32 + lane] for k = inclusive scan, broadcast of lane 7, sum over the
// lane's group of 8 (shfl_down with width 8, in the group's first lane), sum over the lane's half
// warp (two disjoint masks at once), ballot, any, all.
__global__ void warp_ops_kernel(const int* x, int* results) {
  const int lane = threadIdx.x;
  const unsigned full = 0xffffffffu;
  int scan = x[lane];
  for (int d = 1; d < 32; d *= 2) {
    const int up = __shfl_up_sync(full, scan, d);
    if (lane >= d) scan += up;
  }
  results[lane] = scan;
  results[32 + lane] = __shfl_sync(full, x[lane], 7);
  int group = x[lane];
  for (int offset = 4; offset > 0; offset /= 2) group += __shfl_down_sync(full, group, offset, 8);
  results[64 + lane] = lane % 8 == 0 ? group : 0;
  const unsigned half = lane < 16 ? 0x0000ffffu : 0xffff0000u;
  int h = x[lane];
  for (int offset = 8; offset > 0; offset /= 2) h += __shfl_xor_sync(half, h, offset);
  results[96 + lane] = h;
  results[128 + lane] = int(__ballot_sync(full, x[lane] > 0));
  results[160 + lane] = __any_sync(full, x[lane] > 100);
  results[192 + lane] = __all_sync(full, x[lane] > -100);
}

__global__ void atomics_kernel(int* ints, unsigned* cas_wins, float* fsum, double* dsum) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  atomicMax(&ints[0], t);
  atomicMin(&ints[1], -t);
  atomicAdd(&ints[2], 1);
  if (atomicCAS(&ints[3], 0, t + 1) == 0) atomicAdd(cas_wins, 1u);
  atomicExch(&ints[4], 7);
  atomicAdd(fsum, 0.5f);
  atomicAdd(dsum, 0.25);
}

// Writes each thread's indices at its global linear position.
__global__ void index_kernel(int* out) {
  const int block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const int local = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  int* o = out + 6 * (block * blockDim.x * blockDim.y * blockDim.z + local);
  o[0] = threadIdx.x, o[1] = threadIdx.y, o[2] = threadIdx.z;
  o[3] = blockIdx.x, o[4] = blockIdx.y, o[5] = blockIdx.z;
}

__global__ void block_order_kernel(int* counter, int* order) {
  if (threadIdx.x == 0) order[atomicAdd(counter, 1)] = blockIdx.x + gridDim.x * blockIdx.y;
}

// Thread 0 of every block adds 1 to *counter `iters` times, atomically or as a racy
// read-modify-write (the nanosleep lets the other block's thread in between).
__global__ void counter_kernel(int* counter, int iters, int atomic) {
  if (threadIdx.x != 0) return;
  for (int i = 0; i < iters; ++i) {
    if (atomic) {
      atomicAdd(counter, 1);
    } else {
      const int v = *(volatile int*)counter;
      __nanosleep(100);
      *(volatile int*)counter = v + 1;
    }
  }
}

// Thread 5 never writes its slot of the tile; thread 0 then sums the whole tile.
__global__ void unwritten_shared_kernel(float* out) {
  DASG_SHARED(float, tile, 64);
  if (threadIdx.x != 5) tile[threadIdx.x] = 1.0f;
  __syncthreads();
  if (threadIdx.x == 0) {
    float sum = 0.0f;
    for (int i = 0; i < 64; ++i) sum += tile[i];
    out[0] = sum;
  }
}

// Broken on purpose, selected by `which`: 0 = two different __syncthreads(), 1 = thread 0 returns
// before a __syncthreads(), 2 = the half warps call different shuffles, 3 = lane 0 waits at
// __syncthreads() while the other lanes wait for it in __syncwarp().
__global__ void broken_sync_kernel(int which, float* out) {
  const int t = threadIdx.x;
  float v = float(t);
  if (which == 0) {
    if (t < 16)
      __syncthreads();
    else
      __syncthreads();
  } else if (which == 1) {
    if (t == 0) return;
    __syncthreads();
  } else if (which == 2) {
    if (t < 16)
      v += __shfl_xor_sync(0xffffffffu, v, 1);
    else
      v += __shfl_down_sync(0xffffffffu, v, 1);
  } else {
    if (t == 0)
      __syncthreads();
    else
      __syncwarp();
  }
  out[t] = v;
}

// out[i] = i for i < n, grid-stride (fewer threads than elements, so most threads loop).
__global__ void iota_kernel(int* out, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x;
#ifndef DASG_EMU_TEETH_OVERRUN
       i < n;
#else
       i <= n;  // off by one: writes out[n]
#endif
       i += gridDim.x * blockDim.x)
    out[i] = i;
}

__global__ void noop_kernel(int) {}

}  // namespace

std::vector<float> block_sums(const std::vector<float>& x, int threads) {
  DeviceBuffer<float> dx(x);
  const int blocks = int((x.size() + threads - 1) / threads);
  DeviceBuffer<float> out(blocks);
  launch(block_reduce_kernel, dim3(blocks), dim3(threads), 0, nullptr, dx.ptr, out.ptr, int(x.size()));
  return out.host();
}

void allow_dynamic_shared(int bytes) {
  DASG_CUDA_CHECK(cudaFuncSetAttribute(dynamic_reduce_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
}

std::vector<float> dynamic_block_sums(const std::vector<float>& x, int threads, size_t shared_bytes) {
  DeviceBuffer<float> dx(x);
  const int blocks = int((x.size() + threads - 1) / threads);
  DeviceBuffer<float> out(blocks);
  launch(dynamic_reduce_kernel, dim3(blocks), dim3(threads), shared_bytes, nullptr, dx.ptr, out.ptr, int(x.size()),
         int(shared_bytes / sizeof(float)));
  return out.host();
}

std::vector<float> transpose(const std::vector<float>& in, int n) {
  DeviceBuffer<float> din(in), out(in.size());
  launch(transpose_kernel, dim3((n + 7) / 8, (n + 7) / 8), dim3(8, 8), 0, nullptr, din.ptr, out.ptr, n);
  return out.host();
}

float warp_sum(const std::vector<float>& x, int threads) {
  DeviceBuffer<float> dx(x), out(1);
  out.zero();
  launch(warp_reduce_kernel, dim3(int((x.size() + threads - 1) / threads)), dim3(threads), 0, nullptr, dx.ptr,
         out.ptr, int(x.size()));
  return out.host()[0];
}

std::vector<int> warp_ops(const std::vector<int>& x) {
  DeviceBuffer<int> dx(x), out(7 * 32);
  launch(warp_ops_kernel, dim3(1), dim3(32), 0, nullptr, dx.ptr, out.ptr);
  return out.host();
}

// {max, min, count, cas value, exch value, cas wins, float sum, double sum}
std::vector<double> atomics(int blocks, int threads) {
  DeviceBuffer<int> ints(std::vector<int>{-1, 1, 0, 0, 0});
  DeviceBuffer<unsigned> wins(1);
  DeviceBuffer<float> fsum(1);
  DeviceBuffer<double> dsum(1);
  wins.zero(), fsum.zero(), dsum.zero();
  launch(atomics_kernel, dim3(blocks), dim3(threads), 0, nullptr, ints.ptr, wins.ptr, fsum.ptr, dsum.ptr);
  const std::vector<int> host = ints.host();
  std::vector<double> r(host.begin(), host.end());
  r.push_back(wins.host()[0]);
  r.push_back(fsum.host()[0]);
  r.push_back(dsum.host()[0]);
  return r;
}

std::vector<int> thread_indices(dim3 grid, dim3 block) {
  DeviceBuffer<int> out(size_t(6) * grid.x * grid.y * grid.z * block.x * block.y * block.z);
  launch(index_kernel, grid, block, 0, nullptr, out.ptr);
  return out.host();
}

std::vector<int> block_order(dim3 grid) {
  DeviceBuffer<int> counter(1), order(size_t(grid.x) * grid.y);
  counter.zero();
  launch(block_order_kernel, grid, dim3(32), 0, nullptr, counter.ptr, order.ptr);
  return order.host();
}

int count_with_blocks(int blocks, int iters, bool atomic) {
  DeviceBuffer<int> counter(1);
  counter.zero();
  launch(counter_kernel, dim3(blocks), dim3(32), 0, nullptr, counter.ptr, iters, int(atomic));
  return counter.host()[0];
}

float sum_of_partly_written_shared() {
  DeviceBuffer<float> out(1);
  launch(unwritten_shared_kernel, dim3(1), dim3(64), 0, nullptr, out.ptr);
  return out.host()[0];
}

void run_broken_sync(int which) {
  DeviceBuffer<float> out(32);
  launch(broken_sync_kernel, dim3(1), dim3(32), 0, nullptr, which, out.ptr);
}

std::vector<int> grid_stride_iota(int n, int blocks, int threads) {
  DeviceBuffer<int> out((size_t)n);
  launch(iota_kernel, dim3(blocks), dim3(threads), 0, nullptr, out.ptr, n);
  return out.host();
}

void launch_noop(dim3 grid, dim3 block, size_t shared_bytes) {
  launch(noop_kernel, grid, block, shared_bytes, nullptr, 0);
}

}  // namespace emu_test
