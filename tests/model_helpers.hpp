// Helpers of the model suites (test_model*.cpp, which link dasg_train).
#pragma once
#include <string>

#include "autograd/node.hpp"
#include "model/model.hpp"
#include "train/router_state.hpp"

namespace dasg::test {

// dasg: the DSSE transfer, random deep experts (fc2..fc4) and policy, and the evaluator's
// statistics from one training forward on `tokens` (train/'s RouterState), so that every ADR
// branch (shallow, deep, policy) is taken afterwards.
inline void prepare_dasg(Model& m, Generator& gen, const Tensor& tokens, const Tensor& lengths = Tensor()) {
  m.transfer_dsse();
  {
    NoGradGuard ng;
    for (const NamedTensor& e : m.parameters().all())
      if ((e.name.find(".deep.") != std::string::npos && e.name.find(".fc1.") == std::string::npos) ||
          e.name.find(".policy.") != std::string::npos)
        e.tensor.detach().copy_from(Tensor::randn(e.tensor.shape(), gen, 0, 0.5).to(e.tensor.device()));
  }
  m.train(true);
  RouterState router(m.config());
  Generator sample(77);
  router.policy_loss(m.forward(tokens, Tensor(), lengths, sample));  // records the raw scores
  router.end_step(m);
}

}  // namespace dasg::test
