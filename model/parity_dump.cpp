// The parity dump (DESIGN §8, `dasg forward`): checks, the evaluation forward with the training
// graph, backward of loss.total, and the named tensors.
#include "model/parity_dump.hpp"

#include "engine/error.hpp"

namespace dasg {

namespace {

// A deep expert's fc1 ("blocks.l.ffn.deep.e.fc1.weight" / ".bias"): frozen once deep_active.
bool is_deep_fc1(const std::string& name) {
  const size_t deep = name.find(".ffn.deep.");
  return deep != std::string::npos && name.find(".fc1.", deep) != std::string::npos;
}

// A host f32 copy without gradient.
Tensor host_f32(const Tensor& t) { return t.detach().to(kCPU).to(DType::f32).clone(); }

}  // namespace

int64_t dump_seq_len(const Config& cfg, int64_t batch, int64_t count, const std::string& what) {
  DASG_CHECK(batch >= 1, "forward dump: batch B = ", batch, "; expected B >= 1");
  DASG_CHECK(count >= 1, "forward dump: ", what, " hold no tokens; expected B·T tokens");
  DASG_CHECK(count % batch == 0, "forward dump: ", what, " hold ", count, " tokens, which batch B = ", batch,
             " does not divide; expected B·T tokens");
  const int64_t T = count / batch;
  DASG_CHECK(T <= cfg.max_seq_len, "forward dump: ", what, " hold ", count, " tokens = B ", batch, " × T ", T,
             "; expected T <= max_seq_len = ", cfg.max_seq_len);
  return T;
}

void check_dump_input(const Config& cfg, const DumpInput& in) {
  const int64_t B = in.batch, T = dump_seq_len(cfg, B, (int64_t)in.tokens.size(), in.tokens_name);
  for (size_t i = 0; i < in.tokens.size(); ++i)
    DASG_CHECK(in.tokens[i] >= 0 && in.tokens[i] < cfg.vocab_size, "forward dump: ", in.tokens_name, ": token ",
               in.tokens[i], " at index ", i, " is outside 0..", cfg.vocab_size - 1, " (vocab_size ", cfg.vocab_size, ")");
  if (in.targets) {
    const std::vector<int32_t>& y = *in.targets;
    if (cfg.causal) {
      DASG_CHECK((int64_t)y.size() == B * T, "forward dump: ", in.targets_name, " hold ", y.size(),
                 " values; a causal model takes B·T = ", B * T, " next tokens",
                 (int64_t)y.size() == B ? " (class labels are for encoders, causal: false)" : "");
      for (size_t i = 0; i < y.size(); ++i)
        DASG_CHECK(y[i] >= 0 && y[i] < cfg.vocab_size, "forward dump: ", in.targets_name, ": target token ", y[i],
                   " at index ", i, " is outside 0..", cfg.vocab_size - 1, " (vocab_size ", cfg.vocab_size, ")");
    } else {
      DASG_CHECK((int64_t)y.size() == B, "forward dump: ", in.targets_name, " hold ", y.size(),
                 " values; an encoder takes B = ", B, " class labels, one per sequence");
      for (size_t i = 0; i < y.size(); ++i)
        DASG_CHECK(y[i] >= 0 && y[i] < cfg.n_classes, "forward dump: ", in.targets_name, ": label ", y[i],
                   " at index ", i, " is outside 0..", cfg.n_classes - 1, " (n_classes ", cfg.n_classes, ")");
    }
  }
  if (in.lengths) {
    DASG_CHECK(!cfg.causal, "forward dump: ", in.lengths_name, " given for a causal model; sequence lengths "
               "(padding) are for encoders only (causal: false)");
    const std::vector<int32_t>& n = *in.lengths;
    DASG_CHECK((int64_t)n.size() == B, "forward dump: ", in.lengths_name, " hold ", n.size(),
               " values; expected B = ", B, " sequence lengths");
    for (size_t i = 0; i < n.size(); ++i)
      DASG_CHECK(n[i] >= 1 && n[i] <= T, "forward dump: ", in.lengths_name, ": length ", n[i], " at index ", i,
                 " is outside 1..", T, " (T)");
  }
}

std::vector<std::string> dump_trainable_names(const Model& model) {
  std::vector<std::string> names;
  for (const NamedTensor& e : model.parameters().all())
    if (!e.buffer && !(model.deep_active() && is_deep_fc1(e.name))) names.push_back(e.name);
  return names;
}

std::vector<std::pair<std::string, Tensor>> parity_dump(Model& model, const DumpInput& in) {
  const Config& cfg = model.config();
  check_dump_input(cfg, in);
  const int64_t B = in.batch, T = (int64_t)in.tokens.size() / B;
  const Device dev = model.parameters().get("wte.weight").device();
  Tensor tokens = Tensor::from_vector(in.tokens, {B, T}).to(dev), targets, lengths;
  if (in.targets) targets = Tensor::from_vector(*in.targets, cfg.causal ? Shape{B, T} : Shape{B}).to(dev);
  if (in.lengths) lengths = Tensor::from_vector(*in.lengths, {B}).to(dev);

  // Evaluation mode (no sampling, frozen statistics, dropout off) with Switch capacity; the graph
  // is recorded as in training (Model::forward never turns gradients off by itself).
  const bool was_training = model.training();
  model.train(false);
  model.set_capacity(true);
  for (NamedTensor e : model.parameters().all()) e.tensor.zero_grad();
  ForwardResult r;
  try {
    r = model.forward(tokens, targets, lengths);
    if (r.loss.requires_grad()) r.loss.backward();
  } catch (...) {
    model.train(was_training);
    throw;
  }
  model.train(was_training);

  std::vector<std::pair<std::string, Tensor>> out;
  out.emplace_back("logits", host_f32(r.logits));
  out.emplace_back("loss.total", host_f32(r.loss));
  out.emplace_back("loss.ce", host_f32(r.ce));
  out.emplace_back("loss.balance", host_f32(r.balance));
  out.emplace_back("loss.z", host_f32(r.z));
  out.emplace_back("loss.sparsity", host_f32(r.sparsity));
  // Evaluation mode samples nothing, so the REINFORCE surrogate (train/router_state) is 0 (§7.4).
  out.emplace_back("loss.policy", Tensor::zeros({}, DType::f32));
  if (cfg.ffn == "dasg") {  // §7.2: C, I, s, π and tier only for layers whose FFN is dasg
    for (size_t l = 0; l < r.layers.size(); ++l) {
      const LayerRouting& lr = r.layers[l];
      const std::string p = "layers." + std::to_string(l) + ".";
      out.emplace_back(p + "C", host_f32(lr.C));
      out.emplace_back(p + "I", host_f32(lr.I));
      out.emplace_back(p + "s", host_f32(lr.s));
      out.emplace_back(p + "pi", host_f32(lr.pi));
      out.emplace_back(p + "tier", host_f32(lr.tier));
    }
  }
  for (const std::string& name : dump_trainable_names(model)) {
    const Tensor p = model.parameters().get(name);
    const Tensor g = p.grad();
    out.emplace_back("grad." + name, g.defined() ? host_f32(g) : Tensor::zeros(p.shape(), DType::f32));
  }
  for (NamedTensor e : model.parameters().all()) e.tensor.zero_grad();
  return out;
}

}  // namespace dasg
