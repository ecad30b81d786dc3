// Bucketed collectives (see buckets.hpp).
#include "dist/buckets.hpp"

#include "engine/allocator.hpp"
#include "engine/error.hpp"

namespace dasg::dist {

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
  for (DType dtype : {DType::f32, DType::f64}) {
    const int64_t esize = dtype == DType::f32 ? 4 : 8;
    std::vector<size_t> bucket;  // indices into tensors
    int64_t elems = 0;
    auto flush = [&] {
      if (bucket.empty()) return;
      if (bucket.size() == 1) {
        Tensor t = tensors[bucket[0]];
        reduce(t);
      } else {
        Tensor flat = Tensor::empty({elems}, dtype, device);
        char* base = static_cast<char*>(flat.raw_data());
        int64_t at = 0;
        for (size_t i : bucket) {
          const int64_t n = tensors[i].numel() * esize;
          copy_bytes(base + at, device, tensors[i].raw_data(), device, (size_t)n);
          at += n;
        }
        reduce(flat);
        at = 0;
        for (size_t i : bucket) {
          const int64_t n = tensors[i].numel() * esize;
          copy_bytes(tensors[i].raw_data(), device, base + at, device, (size_t)n);
          at += n;
        }
      }
      bucket.clear();
      elems = 0;
    };
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (tensors[i].dtype() != dtype || tensors[i].numel() == 0) continue;
      if (!bucket.empty() && (elems + tensors[i].numel()) * esize > bucket_bytes) flush();
      bucket.push_back(i);
      elems += tensors[i].numel();
    }
    flush();
  }
}

}  // namespace dasg::dist
