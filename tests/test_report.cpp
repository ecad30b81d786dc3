// Suite "report" (`dasg report`, train/report.hpp; the routing view of `dasg inspect --html`,
// train/routing_view.hpp): the SVG of a plot holds one point per data point, its band and error
// bars, at the hand-computed coordinates; names are escaped wherever they land; a run's and an
// experiment's pages hold every plot they should, with every step; bad or missing directories
// are refused naming them, and so is an --out that cannot be written. The runs are fake
// (metrics.jsonl written here), so no model trains.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "engine/json.hpp"
#include "model/config.hpp"
#include "tests/helpers.hpp"
#include "train/experiment.hpp"
#include "train/html.hpp"
#include "train/report.hpp"
#include "train/routing_view.hpp"
#include "train/svg_plot.hpp"
#include "train/text_file.hpp"

using namespace dasg;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

int64_t count(const std::string& text, const std::string& what) {
  int64_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// The value of the first `attr="..."` after `from` in text.
std::string attribute(const std::string& text, const std::string& attr, size_t from = 0) {
  const size_t at = text.find(attr + "=\"", from);
  REQUIRE(at != std::string::npos);
  const size_t b = at + attr.size() + 2;
  return text.substr(b, text.find('"', b) - b);
}

// A finished dasg run of `steps` steps with 2 layers and 2 experts per tier: loss 3 − step/10,
// an evaluation every 5 steps, then `resumed` re-runs from step 5 (its records supersede).
void fake_run(const fs::path& dir, int steps, double offset, bool resumed = false) {
  fs::create_directories(dir);
  std::ofstream m(dir / "metrics.jsonl");
  auto write = [&](int from) {
    for (int s = from; s < steps; ++s) {
      m << json{{"step", s}, {"loss", 3.0 - s / 10.0 + offset}, {"tokens_per_s", 1000.0 + s},
                {"deep_rate", {0.25, 0.5 + offset}}, {"policy_entropy", {0.6, 0.5}},
                {"load_shallow", {{0.5, 0.5}, {0.25, 0.75}}}, {"load_deep", {{1.0, 0.0}, {0.5, 0.5}}}}
               .dump()
        << "\n";
      if ((s + 1) % 5 == 0)
        m << json{{"step", s}, {"eval", true}, {"dev_loss", 1.0 - offset}, {"dev_accuracy", 0.5 + offset},
                  {"test_accuracy", 0.5 + offset}}
                 .dump()
          << "\n";
    }
  };
  write(0);
  if (resumed) {
    m << json{{"step", 5}, {"resumed", true}}.dump() << "\n";
    write(5);
  }
}

}  // namespace

TEST_SUITE("report") {
  TEST_CASE("report: a plot's SVG holds its points, band and error bars where computed by hand") {
    // Series a: x 0..4, y = x, a band y ± 1; series b: 3 points, markers, 2 error bars.
    Plot p{"t", "step", "v", {}, {}};
    p.series.push_back({"a", {0, 1, 2, 3, 4}, {0, 1, 2, 3, 4}, {-1, 0, 1, 2, 3}, {1, 2, 3, 4, 5}, {}, false});
    p.series.push_back({"b", {0, 2, 4}, {1, 1, 1}, {}, {}, {0.5, NAN, 0.5}, true});
    const std::string svg = svg_plot(p);
    CHECK(attribute(svg, "data-points") == "8");
    CHECK(attribute(svg, "data-markers") == "3");
    CHECK(attribute(svg, "data-bars") == "2");
    CHECK(count(svg, "<polyline class=\"line\"") == 2);
    CHECK(count(svg, "<polygon class=\"band\"") == 1);
    CHECK(count(svg, "<circle class=\"pt\"") == 3);
    CHECK(count(svg, "<path class=\"err\"") == 2);
    // x spans [0, 4] padded by 5% of 4: [-0.2, 4.2] over the 404 px from 64: x = 0 at
    // 64 + 0.2 / 4.4 · 404 = 82.4; y spans [-1, 5] padded by 0.3: [-1.3, 5.3] over the 198 px
    // from 28: y = 0 at 28 + 5.3 / 6.6 · 198 = 187.0, y = 4 at 28 + 1.3 / 6.6 · 198 = 67.0.
    const size_t line = svg.find("<polyline");
    CHECK(attribute(svg, "data-n", line) == "5");
    const std::string pts = attribute(svg, "points", line);
    CHECK(count(pts, ",") == 5);
    CHECK(pts.rfind("82.4,187.0 ", 0) == 0);
    CHECK(pts.substr(pts.rfind(' ') + 1) == "449.6,67.0");  // x = 4 at 64 + 4.2 / 4.4 · 404
    // Series b's bar at x = 0: y 1 ± 0.5 → from 28 + 4.8 / 6.6 · 198 = 172.0 to 142.0.
    CHECK(svg.find("d=\"M82.4 172.0V142.0") != std::string::npos);

    // Categorical x: the ticks are the labels, x = i at the centre of the i-th of n slots.
    Plot c{"c", "groups", "acc", {{"s", {0, 2}, {0.5, 0.7}, {}, {}, {}, true}}, {"1", "4", "16"}};
    const std::string cs = svg_plot(c);
    CHECK(attribute(cs, "data-points") == "2");
    CHECK(cs.find(">16</text>") != std::string::npos);
    CHECK(cs.find("stroke=\"#1f77b4\" stroke-width=\"1.5\" points=") != std::string::npos);  // joined
    c.series[0].line = false;  // unordered categories: the points are not joined, still all there
    const std::string apart = svg_plot(c);
    CHECK(apart.find("stroke=\"none\" stroke-width=\"1.5\" points=") != std::string::npos);
    CHECK(attribute(apart, "data-points") == "2");
    CHECK(attribute(cs, "points", cs.find("<polyline")).rfind("131.3,", 0) == 0);  // 64 + 0.5 / 3 · 404

    // Ticks 1, 2 or 5 × 10^k apart, labelled with the decimals the step needs: y in [0.4910,
    // 0.4912] padded to [0.49099, 0.49121] gives about 5 ticks of 0.00005 from 0.49100.
    const std::string close = svg_plot(Plot{"c", "", "", {{"s", {0, 1}, {0.4910, 0.4912}, {}, {}, {}, false}}, {}});
    for (const char* t : {">0.49100</text>", ">0.49105</text>", ">0.49120</text>"}) CHECK(close.find(t) != std::string::npos);
    CHECK(close.find(">0.49125</text>") == std::string::npos);
    // Values round-off apart (equal predictions of every seed) are one value: a few ticks, not a
    // step below the doubles' resolution.
    const double v = 2.2811;
    const std::string same =
        svg_plot(Plot{"s", "", "", {{"s", {0, 1}, {v, std::nextafter(v, 3.0)}, {}, {}, {}, false}}, {}});
    CHECK(count(same, "stroke=\"#eee\"") == 5);  // [1.78, 2.78] in ticks of 0.2 from 1.8
    CHECK(same.find(">2.2</text>") != std::string::npos);

    CHECK_ERROR_CONTAINS(svg_plot(Plot{"p", "", "", {{"e", {}, {}, {}, {}, {}, false}}, {}}), "plot 'p', series 'e'",
                         "no point");
    CHECK_ERROR_CONTAINS(svg_plot(Plot{"p", "", "", {{"e", {1, 2}, {1}, {}, {}, {}, false}}, {}}), "2 x values, 1 y");
    CHECK_ERROR_CONTAINS(svg_plot(Plot{"p", "", "", {{"e", {1}, {NAN}, {}, {}, {}, false}}, {}}), "expected finite");
    CHECK_ERROR_CONTAINS(svg_plot(Plot{"p", "", "", {{"e", {3}, {1}, {}, {}, {}, false}}, {"a", "b"}}),
                         "not one of the 2 categories");
  }

  TEST_CASE("report: names are escaped wherever they land") {
    CHECK(html_escape("<script>&\"'") == "&lt;script&gt;&amp;&quot;&#39;");
    CHECK(html_escape("caf\xc3\xa9 \xff\x01\n") == "caf\xc3\xa9 \\xff\\x01\n");  // é kept; a stray byte shown
    CHECK(html_escape("\xe2\x82") == "\\xe2\\x82");  // a cut sequence
    CHECK(html_escape("\xed\xa0\x80") == "\\xed\\xa0\\x80");  // a surrogate is not UTF-8
    const std::string svg = svg_plot(Plot{"<t>", "x&", "y\"", {{"<b>", {1}, {1}, {}, {}, {}, false}}, {}});
    CHECK(svg.find("<b>") == std::string::npos);
    CHECK(svg.find("<t>") == std::string::npos);
    CHECK(count(svg, "&lt;b&gt;") == 3);  // the line's title, the marker's title, the legend
    CHECK(svg.find("x&amp;") != std::string::npos);

    const fs::path dir = fs::temp_directory_path() / "dasg_report <&> run";
    fs::remove_all(dir);
    fake_run(dir, 10, 0);
    const Report r = make_report({dir.string()}, "a <title>");
    CHECK(r.html.find(dir.string()) == std::string::npos);
    CHECK(r.html.find("dasg_report &lt;&amp;&gt; run") != std::string::npos);
    CHECK(r.html.find("<title>a &lt;title&gt;</title>") != std::string::npos);
    fs::remove_all(dir);
  }

  TEST_CASE("report: a run's page holds every plot with every step") {
    const fs::path dir = fs::temp_directory_path() / "dasg_report_run";
    fs::remove_all(dir);
    fake_run(dir, 10, 0, /*resumed=*/true);  // steps 5..9 written twice: each counted once
    const Report r = make_report({dir.string()}, "run");
    // loss, dev_loss, dev_accuracy, deep rate, policy entropy, shallow load, deep load.
    CHECK(r.plots == 7);
    CHECK(count(r.html, "<svg") == 7);
    CHECK(count(r.html, "<script") == 0);
    CHECK(count(r.html, "http://") == count(r.html, "xmlns=\"http://www.w3.org/2000/svg\""));  // nothing fetched
    const size_t loss = r.html.find("<title>training loss</title>");
    REQUIRE(loss != std::string::npos);
    CHECK(attribute(r.html, "data-points", r.html.rfind("<svg", loss)) == "10");
    const size_t dev = r.html.find("<title>validation: dev_loss</title>");
    CHECK(attribute(r.html, "data-points", r.html.rfind("<svg", dev)) == "2");  // steps 4 and 9
    const size_t deep = r.html.find("<title>deep rate per layer</title>");
    CHECK(attribute(r.html, "data-points", r.html.rfind("<svg", deep)) == "20");  // 2 layers × 10 steps
    const size_t load = r.html.find("<title>expert load, deep tier");
    CHECK(attribute(r.html, "data-points", r.html.rfind("<svg", load)) == "4");  // 2 layers × 2 experts
    CHECK(attribute(r.html, "data-markers", r.html.rfind("<svg", load)) == "4");
    CHECK(count(r.html, "class=\"band\"") == 0);  // one run: no band
    fs::remove_all(dir);
  }

  TEST_CASE("report: an experiment's page: the swept value with error bars, every cell's seeds with a band") {
    const ExperimentSpec spec = ExperimentSpec::from_json(
        json::parse(R"({"name": "exp", "task": "listops", "config": "tiny", "steps": 10, "seeds": 2, "grid": {"gmha.groups": [2, 4]}})"),
        "spec");
    ExperimentOptions o;
    o.out_dir = (fs::temp_directory_path() / "dasg_report_experiment").string();
    o.quiet = true;
    fs::remove_all(o.out_dir);
    const auto base = [](const std::string&) {
      return json::parse(R"({"max_seq_len": 32, "d_model": 16, "n_layer": 2, "n_head": 2, "gmha": {"groups": 4},
        "moe": {"n_shallow": 2, "n_deep": 2, "d_ff": 16, "top_k": 1}})");
    };
    run_experiment(spec, o, base, [](const CellRun& r) {
      if (r.cell->id == "gmha.groups=4" && r.seed == 2) return 3;  // failed
      fake_run(r.run_dir, 10, 0.01 * (double)r.seed);
      fs::create_directories(fs::path(r.run_dir) / "checkpoint");
      std::ofstream(fs::path(r.run_dir) / "checkpoint" / "state.json")
          << json{{"config", Config::from_json(read_json_file(r.config_path)).to_json()}}.dump();
      return 0;
    });
    const Report r = make_report({o.out_dir}, "experiment");
    // test_accuracy and tokens/s against gmha.groups, test_accuracy against the deep rate; 7 per cell.
    CHECK(r.plots == 3 + 2 * 7);
    CHECK(count(r.html, "<svg") == r.plots);
    REQUIRE(r.svgs.size() == 3);
    CHECK(r.svgs[0].first == "exp-gmha.groups-test_accuracy.svg");
    const std::string& sweep = r.svgs[0].second;
    CHECK(attribute(sweep, "data-points") == "2");
    CHECK(attribute(sweep, "data-bars") == "1");  // groups=4 has one seed: no interval
    CHECK(sweep.find(">4</text>") != std::string::npos);
    CHECK(sweep.find("stroke=\"none\" stroke-width") == std::string::npos);  // numbers: joined
    // The interval is results.json's: mean 0.515, half t(0.975, 1) · 0.00707 / √2 = 12.706 · 0.005.
    CHECK(sweep.find("0.515 ± 0.06353") != std::string::npos);
    CHECK(r.html.find(sweep) != std::string::npos);  // the page holds the same plot
    // groups=2: two seeds, so each curve has a band (loss, dev_loss, dev_accuracy, 2 + 2 layers);
    // groups=4: one seed, none.
    CHECK(count(r.html, "class=\"band\"") == 7);
    CHECK(r.html.find("cell gmha.groups=4 (1 seed)") != std::string::npos);
    CHECK(r.html.find("gmha.groups=4, seed 2: failed") != std::string::npos);
    fs::remove_all(o.out_dir);
  }

  TEST_CASE("report: bad and missing directories are refused, naming them") {
    const fs::path dir = fs::temp_directory_path() / "dasg_report_bad";
    fs::remove_all(dir);
    CHECK_ERROR_CONTAINS(make_report({}, "t"), "no directory given");
    const std::string name = dir.string();
    CHECK_ERROR_CONTAINS(make_report({name}, "t"), name.c_str(), "is not a directory");
    fs::create_directories(dir);
    CHECK_ERROR_CONTAINS(make_report({dir.string()}, "t"), "holds neither metrics.jsonl", "nor results.json");
    std::ofstream(dir / "metrics.jsonl") << "{\"step\": 0, \"loss\": 1}\n{\"step\": 1, \"loss\n";
    CHECK_ERROR_CONTAINS(make_report({dir.string()}, "t"), "metrics.jsonl:2", "malformed JSON");
    std::ofstream(dir / "metrics.jsonl") << "{\"step\": 0, \"eval\": true, \"dev_loss\": 1}\n";
    CHECK_ERROR_CONTAINS(make_report({dir.string()}, "t"), "holds no training step");
    std::ofstream(dir / "results.json") << "{\"name\": \"x\"}";
    CHECK_ERROR_CONTAINS(make_report({dir.string()}, "t"), "results.json", "metric");
    std::ofstream(dir / "results.json") << R"({"name": "x", "task": "sst2", "metric": "dev_accuracy", "steps": 1,
      "cells": [{"id": "g=1", "overrides": {"g": 1}, "metric": {"half": 0.1}}]})";  // a statistic without its mean
    CHECK_ERROR_CONTAINS(make_report({dir.string()}, "t"), "results.json", "'mean' is missing");
    const std::string out = (dir / "no such folder" / "report.html").string();  // where --out cannot go
    CHECK_ERROR_CONTAINS(write_text_file(out, "x"), "cannot write", out.c_str());
    fs::remove_all(dir);
  }

  TEST_CASE("routing view: a span per token and layer, C, I and s in its title and the table, escaped") {
    RoutingView v;
    v.title = "ckpt <1>";
    v.about = "encoder";
    v.n_layer = 2;
    v.tokens = {{"<", {0.125, 0.25}, {0.5, 0.75}, {0.875, 0.1}, {1, 0}},
                {"a&b", {0.5, 0.5}, {0.5, 0.5}, {0.5, 0.5}, {0, 0}},
                {"\n", {1, 1}, {0, 0}, {0, 0}, {0, 1}}};
    const std::string h = routing_view_html(v);
    CHECK(count(h, "<div class=\"layer\"") == 2);
    CHECK(count(h, "<span class=\"t ") == 3 * 2 + 3);  // + the legend's three
    CHECK(count(h, "<tr class=\"tok\">") == 3);
    CHECK(attribute(h, "data-rows") == "3");
    CHECK(h.find("title=\"layer 0: deep, C 0.125, I 0.500, s 0.875\">&lt;</span>") != std::string::npos);
    CHECK(h.find("title=\"layer 1: deep, C 1.000, I 0.000, s 0.000\">\xe2\x86\xb5\n</span>") != std::string::npos);
    CHECK(h.find(">a&amp;b</span>") != std::string::npos);
    CHECK(h.find("ckpt &lt;1&gt;") != std::string::npos);
    CHECK(h.find("<1>") == std::string::npos);
    CHECK(count(h, ">deep</td>") == 2);
    CHECK(h.find("layer 0: 1 of 3 tokens deep") != std::string::npos);
    v.tokens[1].s.pop_back();
    CHECK_ERROR_CONTAINS(routing_view_html(v), "token 1", "expected one per layer (2)");
  }
}
