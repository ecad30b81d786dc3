// Parameters registry, GPT-2 initialisation, state_dict ↔ safetensors; Linear and LayerNorm.
#include "model/module.hpp"

#include "model/safetensors.hpp"
#include "ops/cast.hpp"
#include "ops/fused.hpp"
#include "ops/layer_norm.hpp"
#include "ops/matmul.hpp"

namespace dasg {

Tensor Parameters::add(const std::string& name, Tensor t, bool buffer) {
  DASG_CHECK(!index_.count(name), "Parameters: '", name, "' registered twice");
  if (!buffer) t.requires_grad_(true);
  index_[name] = entries_.size();
  entries_.push_back({name, t, buffer});
  return t;
}

Tensor Parameters::normal(const std::string& name, const Shape& shape, double std, Generator& gen) {
  return add(name, std > 0 ? Tensor::randn(shape, gen, 0, std) : Tensor::zeros(shape), false);
}

Tensor Parameters::constant(const std::string& name, const Shape& shape, double value) {
  return add(name, Tensor::full(shape, value), false);
}

Tensor Parameters::buffer(const std::string& name, const Shape& shape, double value) {
  return add(name, Tensor::full(shape, value), true);
}

Tensor Parameters::get(const std::string& name) const {
  auto it = index_.find(name);
  DASG_CHECK(it != index_.end(), "Parameters: no parameter named '", name, "'");
  return entries_[it->second].tensor;
}

std::vector<Tensor> Parameters::trainable() const {
  std::vector<Tensor> out;
  for (const NamedTensor& e : entries_)
    if (!e.buffer) out.push_back(e.tensor);
  return out;
}

int64_t Parameters::count(bool with_buffers, bool held_only) const {
  int64_t n = 0;
  for (const NamedTensor& e : entries_)
    if ((with_buffers || !e.buffer) && !(held_only && e.tensor.released())) n += e.tensor.numel();
  return n;
}

std::vector<std::pair<std::string, Tensor>> Parameters::state_dict() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const NamedTensor& e : entries_) {
    DASG_CHECK(!e.tensor.released(), "Parameters::state_dict: '", e.name, "' is released here (another rank's "
               "expert under expert parallelism); gather the experts first (train/expert_parallel.hpp)");
    out.emplace_back(e.name, e.tensor.detach());
  }
  return out;
}

void Parameters::load_state_dict(const SafetensorsFile& file, const std::string& source) {
  for (const auto& [name, t] : file.tensors)
    DASG_CHECK(index_.count(name), "load: ", source, ": unexpected tensor '", name, "' (not a parameter of this model)");
  for (const NamedTensor& e : entries_) {
    DASG_CHECK(file.contains(e.name), "load: ", source, ": missing tensor '", e.name, "'");
    DASG_CHECK(!e.tensor.released(), "load: ", source, ": this model's '", e.name, "' is released (another rank's "
               "expert under expert parallelism); load into the whole model, then release");
    const Tensor& src = file.at(e.name);
    DASG_CHECK(src.shape() == e.tensor.shape() && src.dtype() == e.tensor.dtype(), "load: ", source, ": tensor '",
               e.name, "' is ", src.str(), "; expected ", e.tensor.str());
  }
  for (const NamedTensor& e : entries_) {
    Tensor dst = e.tensor.detach();
    dst.copy_from(file.at(e.name));
  }
}

void Parameters::save(const std::string& path, const std::map<std::string, std::string>& metadata) const {
  write_safetensors(path, state_dict(), metadata);
}

std::map<std::string, std::string> Parameters::load(const std::string& path) {
  SafetensorsFile file = read_safetensors(path);
  load_state_dict(file, path);
  return file.metadata;
}

Linear Linear::make(Parameters& p, const std::string& prefix, int64_t out, int64_t in, double std, Generator& gen) {
  Linear l;
  l.weight = p.normal(prefix + ".weight", {out, in}, std, gen);
  l.bias = p.constant(prefix + ".bias", {out}, 0);
  return l;
}

Tensor gemm_operand(const Tensor& t, DType gemm) { return gemm == DType::f32 ? t : cast(t, gemm); }

Tensor Linear::operator()(const Tensor& x, DType gemm) const {
  return linear(gemm_operand(x, gemm), gemm_operand(weight, gemm), bias);
}
Tensor Linear::gelu(const Tensor& x, DType gemm, DType out) const {
  const Tensor xg = gemm_operand(x, gemm), wg = gemm_operand(weight, gemm);
  const bool stored_bf16 = gemm == DType::bf16 && out == DType::bf16;
  return bias_gelu(stored_bf16 ? linear_bf16(xg, wg) : linear(xg, wg, Tensor()), bias);
}

LayerNorm LayerNorm::make(Parameters& p, const std::string& prefix, int64_t dim) {
  LayerNorm l;
  l.weight = p.constant(prefix + ".weight", {dim}, 1);
  l.bias = p.constant(prefix + ".bias", {dim}, 0);
  return l;
}

Tensor LayerNorm::operator()(const Tensor& x) const { return layer_norm(x, weight, bias, 1e-5); }

}  // namespace dasg
