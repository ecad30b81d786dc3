// Bucketed collectives (see buckets.hpp).
#include "dist/buckets.hpp"

#include "engine/allocator.hpp"
#include "engine/error.hpp"

namespace dasg::dist {

std::vector<std::vector<size_t>> plan_buckets(const std::vector<Tensor>& tensors, int64_t bucket_bytes) {
  std::vector<std::vector<size_t>> buckets;
  int64_t bytes = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (t.numel() == 0) continue;
    const int64_t b = t.numel() * (int64_t)dtype_size(t.dtype());
    const Tensor* last = buckets.empty() ? nullptr : &tensors[buckets.back()[0]];
    if (!last || bytes + b > bucket_bytes || last->dtype() != t.dtype() || last->device() != t.device()) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().push_back(i);
    bytes += b;
  }
  return buckets;
}

void for_each_bucket(const std::vector<Tensor>& tensors, int64_t bucket_bytes, const char* who,
                     const std::function<void(Tensor& flat)>& reduce) {
  if (tensors.empty()) return;
  const Device device = tensors[0].device();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    DASG_CHECK(t.defined(), who, ": tensor ", i, " of ", tensors.size(), " is undefined");
    DASG_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::f64, who, ": tensor ", i, " is ", t.str(),
               "; collectives reduce f32 or f64 tensors");
    DASG_CHECK(t.device() == device, who, ": tensor ", i, " is ", t.str(), " but tensor 0 is on ", device.str(),
               "; one collective runs on one device");
  }
  for (const std::vector<size_t>& bucket : plan_buckets(tensors, bucket_bytes)) {
    if (bucket.size() == 1) {
      Tensor t = tensors[bucket[0]];
      reduce(t);
      continue;
    }
    const DType dtype = tensors[bucket[0]].dtype();
    const size_t esize = dtype_size(dtype);
    int64_t elems = 0;
    for (size_t i : bucket) elems += tensors[i].numel();
    Tensor flat = Tensor::empty({elems}, dtype, device);
    char* base = static_cast<char*>(flat.raw_data());
    size_t at = 0;
    for (size_t i : bucket) {
      const size_t n = (size_t)tensors[i].numel() * esize;
      copy_bytes(base + at, device, tensors[i].raw_data(), device, n);
      at += n;
    }
    reduce(flat);
    at = 0;
    for (size_t i : bucket) {
      const size_t n = (size_t)tensors[i].numel() * esize;
      copy_bytes(tensors[i].raw_data(), device, base + at, device, n);
      at += n;
    }
  }
}

}  // namespace dasg::dist
