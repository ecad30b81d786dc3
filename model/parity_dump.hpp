// The parity dump of `dasg forward` (DESIGN §8): one evaluation forward of a model on a batch,
// differentiated with the training graph, written out tensor by tensor so that another
// implementation (e.g. a PyTorch reference) can be compared with this one number by number.
//
//   mode:    evaluation — nothing sampled, running statistics frozen, the middle band decided by
//            π ≥ 0.5, dropout off — yet with the training graph: every DSMoE block is computed,
//            Switch capacity is applied, and loss.total is differentiated.
//   tensors: logits [B, T, V] (encoder: [B, C]); loss.{total, ce, balance, z, sparsity, policy} [];
//            for a dasg FFN, per layer l: layers.l.{C, I, s, pi, tier} [B, T] (0 at padding);
//            grad.<name> for every trainable parameter — all but the evaluator buffers and, once
//            deep_active, the deep experts' fc1 — zero where the forward did not use it. All f32.
//
// The inputs arrive as host values (apps/forward.cpp reads them from shards, whose reader checks
// the token/label/length ranges with the file's name); they are checked here again, so a dump
// built in code gets the same errors.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/model.hpp"

namespace dasg {

struct DumpInput {
  int64_t batch = 1;                             // B
  std::vector<int32_t> tokens;                   // B·T token ids
  std::optional<std::vector<int32_t>> targets;   // B·T next tokens (LM) or B class labels (encoder)
  std::optional<std::vector<int32_t>> lengths;   // B sequence lengths in 1..T (encoder only)
  // How errors name the three inputs (the app passes "--tokens FILE", ...).
  std::string tokens_name = "tokens", targets_name = "targets", lengths_name = "lengths";
};

// T = count / batch for `count` tokens; throws unless batch ≥ 1 divides count and
// 1 ≤ T ≤ max_seq_len. `what` names the tokens in the message.
int64_t dump_seq_len(const Config& cfg, int64_t batch, int64_t count, const std::string& what = "tokens");

// Checks every input against the config (sizes, value ranges, lengths only for encoders).
void check_dump_input(const Config& cfg, const DumpInput& in);

// Runs the dump. Leaves the model's mode, capacity flag, running statistics and baselines as
// they were; clears the parameters' gradients (before and after). Returns the tensors in the
// order above, all f32 on the host.
std::vector<std::pair<std::string, Tensor>> parity_dump(Model& model, const DumpInput& in);

// The names of the parameters whose gradient the dump writes (as grad.<name>), in model order.
std::vector<std::string> dump_trainable_names(const Model& model);

}  // namespace dasg
