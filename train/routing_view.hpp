// `dasg inspect --html`: the routing view — a text as the model routed it, one self-contained
// HTML page (no script). Per layer, the text with every token coloured by its tier (shallow,
// deep; grey where the model has no tiers or the deep tier is not active yet), its C, I and s in
// the token's title (shown on hover); then a table of every token with, per layer, its tier, C,
// I and s. C, I: the lightweight evaluator's complexity and importance, s the normalised score
// compared with θ_s and θ_d (DESIGN.md §7.3).
//
// What the page holds, so a reader of the DOM can check it (tests/browser_check.sh):
// <div class="layer" data-layer="l" data-tokens="n"> per layer, holding one <span class="t ...">
// per token; <table class="tokens" data-rows="n"> with one <tr class="tok"> per token.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dasg {

struct RoutingToken {
  std::string text;                 // the token's decoded bytes
  std::vector<double> C, I, s;      // per layer
  std::vector<int> tier;            // per layer: 0 shallow, 1 deep, -1 none (no tiers)
};

struct RoutingView {
  std::string title;  // e.g. the checkpoint's path
  std::string about;  // one line on the model (kind, layers, tiers)
  int64_t n_layer = 0;
  std::vector<RoutingToken> tokens;
};

// Throws dasg::Error naming the token when its per-layer vectors do not hold n_layer values.
std::string routing_view_html(const RoutingView& view);

}  // namespace dasg
