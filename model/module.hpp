// Parameters: the model's named tensors, registered by module path exactly as DESIGN §8 names
// them ("wte.weight", "blocks.0.attn.qkv.weight", ...), in registration order. Trainable
// parameters require grad; buffers (the evaluator's running mean/std) never do and are saved
// alongside. Initialisation is GPT-2's, drawn from one seeded Generator in registration order:
// weights N(0, 0.02), residual projections N(0, 0.02/√(2·n_layer)), biases 0, LayerNorm weight 1.
// state_dict ↔ safetensors: save() writes every tensor; load() checks that the file holds exactly
// these names with these shapes and dtypes, then copies the values in place.
//
// Linear and LayerNorm are the two parameter bundles every module is built from.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/rng.hpp"
#include "engine/tensor.hpp"

namespace dasg {

struct SafetensorsFile;

struct NamedTensor {
  std::string name;
  Tensor tensor;
  bool buffer;  // true: not trained, no gradient
};

class Parameters {
 public:
  // A trainable parameter drawn from N(0, std²) (std = 0: zeros).
  Tensor normal(const std::string& name, const Shape& shape, double std, Generator& gen);
  // A trainable parameter filled with value.
  Tensor constant(const std::string& name, const Shape& shape, double value);
  // A buffer filled with value.
  Tensor buffer(const std::string& name, const Shape& shape, double value);

  const std::vector<NamedTensor>& all() const { return entries_; }
  // The tensor called name (parameter or buffer); throws naming it when absent.
  Tensor get(const std::string& name) const;
  // Every non-buffer tensor (frozen ones included: the optimizer skips those without a grad).
  std::vector<Tensor> trainable() const;
  // Number of elements: every non-buffer tensor's, or the buffers' too; held_only: not counting
  // released tensors (Tensor::release_: another rank's experts under expert parallelism).
  int64_t count(bool with_buffers = false, bool held_only = false) const;

  // Every tensor, by name; throws naming a released one.
  std::vector<std::pair<std::string, Tensor>> state_dict() const;
  void load_state_dict(const SafetensorsFile& file, const std::string& source);
  void save(const std::string& path, const std::map<std::string, std::string>& metadata) const;
  // Loads the values in place; returns the file's metadata.
  std::map<std::string, std::string> load(const std::string& path);

 private:
  Tensor add(const std::string& name, Tensor t, bool buffer);
  std::vector<NamedTensor> entries_;
  std::map<std::string, size_t> index_;
};

// y = x·Wᵀ + b, W [out, in], b [out].
struct Linear {
  Tensor weight, bias;
  static Linear make(Parameters& p, const std::string& prefix, int64_t out, int64_t in, double std, Generator& gen);
  // `gemm` is the GEMM's operand dtype: f32, or bf16 under mixed precision (x and W cast to bf16
  // on the fly unless they are bf16 already, f32 accumulation and output, the bias f32:
  // ops/cast.hpp, ops/matmul.hpp).
  Tensor operator()(const Tensor& x, DType gemm = DType::f32) const;
  // gelu(this(x)): the GEMM without bias, then one fused bias+GELU pass. Under mixed precision the
  // activation is stored in `out`: bf16 (the default: the GEMM's product and the GELU's output
  // kept in bf16, the next GEMM's operand as they are) or f32 (for a consumer that is not a GEMM).
  Tensor gelu(const Tensor& x, DType gemm = DType::f32) const { return gelu(x, gemm, gemm); }
  Tensor gelu(const Tensor& x, DType gemm, DType out) const;
};

// t as a GEMM operand of dtype `gemm`: t itself for f32, cast(t, bf16) under mixed precision.
Tensor gemm_operand(const Tensor& t, DType gemm);

// LayerNorm over the last dimension, eps 1e-5, weight 1, bias 0 at initialisation.
struct LayerNorm {
  Tensor weight, bias;
  static LayerNorm make(Parameters& p, const std::string& prefix, int64_t dim);
  Tensor operator()(const Tensor& x) const;
};

}  // namespace dasg
