// dense → dsmoe checkpoint conversion (DESIGN §7.6; see convert.hpp for why it preserves the function).
#include "model/convert.hpp"

#include <cmath>
#include <set>

#include "autograd/node.hpp"
#include "engine/error.hpp"

namespace dasg {

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The config keys that decide the parameters' names and shapes and the function outside the FFN.
const char* kSharedKeys[] = {"vocab_size", "max_seq_len", "d_model", "n_layer", "n_head", "d_ff",
                             "causal",     "n_classes",   "attention", "gmha"};

void check_source_config(const SafetensorsFile& dense, const std::string& source, const Config& target) {
  auto it = dense.metadata.find("config");
  if (it == dense.metadata.end()) return;  // a bare tensor file: the names and shapes are checked below
  const Config src = Config::parse(it->second);
  DASG_CHECK(src.ffn == "dense", "convert --to dsmoe: ", source, " holds a '", src.ffn,
             "' model (its metadata config says ffn = \"", src.ffn, "\"); expected a dense one");
  const nlohmann::json a = src.to_json(), b = target.to_json();
  for (const char* key : kSharedKeys)
    DASG_CHECK(a[key] == b[key], "convert --to dsmoe: ", key, " differs: ", source, " has ", a[key].dump(),
               ", the dsmoe config has ", b[key].dump(), "; expected the same dimensions");
}

}  // namespace

void convert_dense_to_dsmoe(const SafetensorsFile& dense, const std::string& source, Model& dsmoe) {
  const Config& cfg = dsmoe.config();
  DASG_CHECK(cfg.ffn == "dsmoe", "convert --to dsmoe: the target config has ffn = \"", cfg.ffn, "\"; expected \"dsmoe\"");
  DASG_CHECK(cfg.dsmoe.threshold < kDsmoeConvertGate, "convert --to dsmoe: dsmoe.threshold = ", cfg.dsmoe.threshold,
             " would close the converted gates (σ = ", kDsmoeConvertGate, "); expected a threshold below ",
             kDsmoeConvertGate);
  check_source_config(dense, source, cfg);

  NoGradGuard no_grad;
  std::set<std::string> used;
  const double gate_bias = std::log(kDsmoeConvertGate / (1 - kDsmoeConvertGate));  // ln 9: σ = 0.9
  for (const NamedTensor& e : dsmoe.parameters().all()) {
    Tensor dst = e.tensor.detach();
    if (ends_with(e.name, ".ffn.gate.weight")) {
      dst.zero_();
      continue;
    }
    if (ends_with(e.name, ".ffn.gate.bias")) {
      dst.fill_(gate_bias);
      continue;
    }
    DASG_CHECK(dense.contains(e.name), "convert --to dsmoe: ", source, " has no tensor ", e.name, " ",
               shape_str(e.tensor.shape()), "; expected a dense model's weights (DESIGN §8 names)");
    const Tensor& src = dense.at(e.name);
    DASG_CHECK(src.shape() == dst.shape() && src.dtype() == dst.dtype(), "convert --to dsmoe: ", source, ": ", e.name,
               " is ", src.str(), "; the dsmoe model expects ", dst.str());
    used.insert(e.name);
    if (ends_with(e.name, ".ffn.fc2.weight")) {
      std::vector<float> w = src.detach().to(kCPU).to(DType::f32).to_vector<float>();
      for (float& v : w) v = (float)((double)v / kDsmoeConvertGate);
      dst.copy_from(Tensor::from_vector(w, dst.shape()).to(dst.dtype()));
    } else {
      dst.copy_from(src);
    }
  }
  for (const auto& [name, t] : dense.tensors)
    DASG_CHECK(used.count(name), "convert --to dsmoe: ", source, " holds ", name, " ", t.str(),
               ", which a dsmoe model with this config does not have; expected a dense model's weights");
}

void convert_dense_to_dsmoe(const Model& dense, Model& dsmoe) {
  SafetensorsFile file;
  file.tensors = dense.parameters().state_dict();
  file.metadata["config"] = dense.config().to_json().dump();
  convert_dense_to_dsmoe(file, "the dense model", dsmoe);
}

}  // namespace dasg
