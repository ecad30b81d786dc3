// Bucketed collectives: the tensors of one all-reduce are flattened into a few contiguous buffers
// (plan_buckets below: runs of one dtype, each at most bucket_bytes), the backend reduces each
// buffer in one call, and the results are copied back. A bucket holding a single tensor is
// reduced in place, without a copy.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "engine/tensor.hpp"

namespace dasg::dist {

// The buckets of `tensors`, as indices in order: consecutive runs of one dtype and device holding
// at most bucket_bytes (a larger tensor is a bucket of its own); tensors without elements are in
// none. The same list gives the same buckets on every rank. for_each_bucket and the gradients'
// overlapped all-reduce (train/data_parallel.hpp) both bucket by this.
std::vector<std::vector<size_t>> plan_buckets(const std::vector<Tensor>& tensors, int64_t bucket_bytes);

// Checks that `tensors` are defined, f32 or f64 and on one device (naming `who`), then calls
// `reduce` on every bucket, in the order of the tensors; the same list gives the same buckets on
// every rank.
void for_each_bucket(const std::vector<Tensor>& tensors, int64_t bucket_bytes, const char* who,
                     const std::function<void(Tensor& flat)>& reduce);

}  // namespace dasg::dist
