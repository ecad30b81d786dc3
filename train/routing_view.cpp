// The routing view's page (see routing_view.hpp).
#include "train/routing_view.hpp"

#include <cstdio>

#include "engine/error.hpp"
#include "train/html.hpp"

namespace dasg {

namespace {

const char* kStyle = R"(body { font-family: sans-serif; margin: 1.5em; color: #222; }
.text { font-family: monospace; white-space: pre-wrap; line-height: 1.7; border: 1px solid #ddd; padding: 6px; }
.t { padding: 1px 0; border-radius: 2px; box-shadow: inset -1px 0 #fff; }
.shallow { background: #cfe3f7; }
.deep { background: #f7b267; }
.none { background: #e4e4e4; }
table { border-collapse: collapse; font-size: 12px; }
td, th { border: 1px solid #ccc; padding: 1px 5px; text-align: right; }
td.tok { font-family: monospace; text-align: left; white-space: pre; }
.note { color: #666; font-size: 13px; }
)";

const char* tier_name(int t) { return t == 1 ? "deep" : t == 0 ? "shallow" : "none"; }

std::string fixed(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

// A token shown in the text: newlines as ↵ followed by the line break, tabs as →; in the table
// (`cell`) spaces as ␣ and newlines without the break.
std::string shown(const std::string& text, bool cell = false) {
  std::string out;
  for (char c : text)
    out += c == '\n' ? std::string(cell ? "\xe2\x86\xb5" : "\xe2\x86\xb5\n")
           : c == '\t' ? std::string("\xe2\x86\x92")
           : c == ' ' && cell ? std::string("\xe2\x90\xa3")
                               : std::string(1, c);
  return html_escape(out);
}

}  // namespace

std::string routing_view_html(const RoutingView& v) {
  const size_t L = (size_t)v.n_layer;
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    const RoutingToken& t = v.tokens[i];
    DASG_CHECK(t.C.size() == L && t.I.size() == L && t.s.size() == L && t.tier.size() == L, "routing view: token ", i,
               " has ", t.C.size(), " C, ", t.I.size(), " I, ", t.s.size(), " s and ", t.tier.size(),
               " tier values; expected one per layer (", L, ")");
  }
  const std::string n = std::to_string(v.tokens.size());
  std::string b = "<h1>routing of " + html_escape(v.title) + "</h1>\n<p>" + html_escape(v.about) + "; " + n +
                  " tokens.</p>\n<p class=\"note\">Tier per token and layer: <span class=\"t shallow\">shallow</span> "
                  "<span class=\"t deep\">deep</span> <span class=\"t none\">no tier</span>. Hover a token for its "
                  "complexity C, importance I and score s (DESIGN.md §7.3); all values are in the table below.</p>\n";
  for (size_t l = 0; l < L; ++l) {
    int64_t deep = 0;
    for (const RoutingToken& t : v.tokens) deep += t.tier[l] == 1;
    b += "<div class=\"layer\" data-layer=\"" + std::to_string(l) + "\" data-tokens=\"" + n + "\">\n<h3>layer " +
         std::to_string(l) + ": " + std::to_string(deep) + " of " + n + " tokens deep</h3>\n<div class=\"text\">";
    for (const RoutingToken& t : v.tokens)
      b += "<span class=\"t " + std::string(tier_name(t.tier[l])) + "\" title=\"layer " + std::to_string(l) + ": " +
           tier_name(t.tier[l]) + ", C " + fixed(t.C[l]) + ", I " + fixed(t.I[l]) + ", s " + fixed(t.s[l]) + "\">" +
           shown(t.text) + "</span>";
    b += "</div>\n</div>\n";
  }
  b += "<h3>every token</h3>\n<table class=\"tokens\" data-rows=\"" + n + "\">\n<tr><th>#</th><th>token</th>";
  for (size_t l = 0; l < L; ++l) {
    const std::string p = "L" + std::to_string(l) + " ";
    b += "<th>" + p + "tier</th><th>" + p + "C</th><th>" + p + "I</th><th>" + p + "s</th>";
  }
  b += "</tr>\n";
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    const RoutingToken& t = v.tokens[i];
    b += "<tr class=\"tok\"><td>" + std::to_string(i) + "</td><td class=\"tok\">" + shown(t.text, true) + "</td>";
    for (size_t l = 0; l < L; ++l)
      b += "<td class=\"" + std::string(tier_name(t.tier[l])) + "\">" + tier_name(t.tier[l]) + "</td><td>" + fixed(t.C[l]) +
           "</td><td>" + fixed(t.I[l]) + "</td><td>" + fixed(t.s[l]) + "</td>";
    b += "</tr>\n";
  }
  b += "</table>\n";
  return html_page("routing of " + v.title, kStyle, b);
}

}  // namespace dasg
