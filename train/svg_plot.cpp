// Line charts as SVG (see svg_plot.hpp).
#include "train/svg_plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/error.hpp"
#include "train/html.hpp"

namespace dasg {

namespace {

// The drawing: a W × H frame, the plot area inside the margins, one legend row per series below.
constexpr double kW = 480, kH = 270, kLeft = 64, kRight = 12, kTop = 28, kBottom = 44, kLegendRow = 15;
const char* const kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string num(double v) {  // a coordinate, to 0.1 px
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string label(double v) {  // a value in a marker's title
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", std::fabs(v) < 1e-12 ? 0.0 : v);
  return buf;
}

// Round ticks covering [lo, hi], labelled: a step of 1, 2 or 5 × 10^k giving about n ticks, each
// label with as many decimals as the step needs (so close ticks never read the same).
std::vector<std::pair<double, std::string>> nice_ticks(double lo, double hi, int n) {
  const double raw = (hi - lo) / n, mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / mag, step = (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * mag;
  const int decimals = (int)std::clamp(std::ceil(-std::log10(step) - 1e-9), 0.0, 12.0);
  std::vector<std::pair<double, std::string>> t;
  const double first = std::ceil(lo / step);
  for (int i = 0; i <= 4 * n && (first + i) * step <= hi + step * 1e-9; ++i) {  // bounded: about n
    const double v = (first + i) * step;
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, std::fabs(v) < step * 0.5 ? 0.0 : v);
    t.emplace_back(v, buf);
  }
  return t;
}

struct Range {
  double lo = INFINITY, hi = -INFINITY;
  void add(double v) { lo = std::min(lo, v), hi = std::max(hi, v); }
  // 5% each side; a single value, or values equal to 1e-9 of their size (round-off apart: a
  // step between their ticks would be below the doubles' resolution), ±max(|v|·5%, 0.5).
  void pad() {
    const double d = hi - lo > 1e-9 * std::max(std::fabs(lo), std::fabs(hi)) ? (hi - lo) * 0.05
                                                                              : std::max(std::fabs(lo) * 0.05, 0.5);
    lo -= d, hi += d;
  }
};

}  // namespace

std::string svg_plot(const Plot& p) {
  const bool categorical = !p.x_ticks.empty();
  Range xr, yr;
  int64_t points = 0, markers = 0, bars = 0;
  for (const PlotSeries& s : p.series) {
    const std::string where = "plot '" + p.title + "', series '" + s.name + "'";
    const size_t n = s.x.size();
    DASG_CHECK(n > 0, where, ": no point");
    DASG_CHECK(s.y.size() == n && (s.lo.empty() || s.lo.size() == n) && s.lo.size() == s.hi.size() &&
                   (s.err.empty() || s.err.size() == n),
               where, ": ", n, " x values, ", s.y.size(), " y, ", s.lo.size(), " lo, ", s.hi.size(), " hi, ",
               s.err.size(), " err; expected one of each per point (lo, hi, err may be empty)");
    for (size_t i = 0; i < n; ++i) {
      DASG_CHECK(std::isfinite(s.x[i]) && std::isfinite(s.y[i]), where, ": point ", i, " is (", s.x[i], ", ", s.y[i],
                 "); expected finite values");
      DASG_CHECK(!categorical || (s.x[i] == std::floor(s.x[i]) && s.x[i] >= 0 && s.x[i] < (double)p.x_ticks.size()),
                 where, ": x ", s.x[i], " is not one of the ", p.x_ticks.size(), " categories");
      xr.add(s.x[i]);
      yr.add(s.y[i]);
      if (!s.lo.empty()) {
        DASG_CHECK(std::isfinite(s.lo[i]) && std::isfinite(s.hi[i]), where, ": the band at point ", i, " is not finite");
        yr.add(s.lo[i]), yr.add(s.hi[i]);
      }
      if (!s.err.empty() && std::isfinite(s.err[i])) yr.add(s.y[i] - s.err[i]), yr.add(s.y[i] + s.err[i]), ++bars;
    }
    points += (int64_t)n;
    if (s.markers || n == 1) markers += (int64_t)n;
  }
  if (categorical) xr.lo = -0.5, xr.hi = (double)p.x_ticks.size() - 0.5;
  else if (points > 0) xr.pad();
  if (points > 0) yr.pad();
  else xr = yr = Range{0, 1};
  const double pw = kW - kLeft - kRight, ph = kH - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - xr.lo) / (xr.hi - xr.lo) * pw; };
  auto py = [&](double y) { return kTop + (yr.hi - y) / (yr.hi - yr.lo) * ph; };
  const double height = kH + kLegendRow * (double)p.series.size();

  std::string o = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" width=\"" + num(kW) + "\" height=\"" +
                  num(height) + "\" viewBox=\"0 0 " + num(kW) + " " + num(height) + "\" data-points=\"" +
                  std::to_string(points) + "\" data-markers=\"" + std::to_string(markers) + "\" data-bars=\"" +
                  std::to_string(bars) + "\" font-family=\"sans-serif\" font-size=\"11\">\n<title>" +
                  html_escape(p.title) + "</title>\n";
  o += "<text x=\"" + num(kW / 2) + "\" y=\"16\" text-anchor=\"middle\" font-size=\"13\">" + html_escape(p.title) +
       "</text>\n";
  o += "<rect x=\"" + num(kLeft) + "\" y=\"" + num(kTop) + "\" width=\"" + num(pw) + "\" height=\"" + num(ph) +
       "\" fill=\"none\" stroke=\"#999\"/>\n";
  // Ticks and grid lines.
  for (const auto& [t, text] : nice_ticks(yr.lo, yr.hi, 5))
    o += "<line x1=\"" + num(kLeft) + "\" x2=\"" + num(kLeft + pw) + "\" y1=\"" + num(py(t)) + "\" y2=\"" + num(py(t)) +
         "\" stroke=\"#eee\"/><text x=\"" + num(kLeft - 4) + "\" y=\"" + num(py(t) + 4) + "\" text-anchor=\"end\">" +
         text + "</text>\n";
  std::vector<std::pair<double, std::string>> xt;
  if (categorical)
    for (size_t i = 0; i < p.x_ticks.size(); ++i) xt.emplace_back((double)i, html_escape(p.x_ticks[i]));
  else
    xt = nice_ticks(xr.lo, xr.hi, 6);
  for (const auto& [t, text] : xt)
    o += "<text x=\"" + num(px(t)) + "\" y=\"" + num(kTop + ph + 14) + "\" text-anchor=\"middle\">" + text + "</text>\n";
  o += "<text x=\"" + num(kLeft + pw / 2) + "\" y=\"" + num(kTop + ph + 32) + "\" text-anchor=\"middle\">" +
       html_escape(p.x_label) + "</text>\n";
  o += "<text transform=\"translate(14 " + num(kTop + ph / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
       html_escape(p.y_label) + "</text>\n";

  for (size_t k = 0; k < p.series.size(); ++k) {
    const PlotSeries& s = p.series[k];
    const std::string colour = kColours[k % (sizeof kColours / sizeof *kColours)];
    const size_t n = s.x.size();
    if (!s.lo.empty()) {
      std::string pts;
      for (size_t i = 0; i < n; ++i) pts += num(px(s.x[i])) + "," + num(py(s.hi[i])) + " ";
      for (size_t i = n; i-- > 0;) pts += num(px(s.x[i])) + "," + num(py(s.lo[i])) + " ";
      pts.pop_back();
      o += "<polygon class=\"band\" fill=\"" + colour + "\" fill-opacity=\"0.2\" stroke=\"none\" points=\"" + pts +
           "\"/>\n";
    }
    std::string pts;
    for (size_t i = 0; i < n; ++i) pts += (i ? " " : "") + num(px(s.x[i])) + "," + num(py(s.y[i]));
    o += "<polyline class=\"line\" data-n=\"" + std::to_string(n) + "\" fill=\"none\" stroke=\"" + (s.line ? colour : "none") +
         "\" stroke-width=\"1.5\" points=\"" + pts + "\"><title>" + html_escape(s.name) + "</title></polyline>\n";
    for (size_t i = 0; i < n && !s.err.empty(); ++i) {
      if (!std::isfinite(s.err[i])) continue;
      const std::string x = num(px(s.x[i])), a = num(py(s.y[i] - s.err[i])), b = num(py(s.y[i] + s.err[i]));
      const std::string l = num(px(s.x[i]) - 4), r = num(px(s.x[i]) + 4);
      o += "<path class=\"err\" stroke=\"" + colour + "\" d=\"M" + x + " " + a + "V" + b + "M" + l + " " + a + "H" + r +
           "M" + l + " " + b + "H" + r + "\"/>\n";
    }
    if (s.markers || n == 1)
      for (size_t i = 0; i < n; ++i)
        o += "<circle class=\"pt\" r=\"3\" fill=\"" + colour + "\" cx=\"" + num(px(s.x[i])) + "\" cy=\"" +
             num(py(s.y[i])) + "\"><title>" + html_escape(s.name) + ": " + label(s.y[i]) +
             (s.err.empty() || !std::isfinite(s.err[i]) ? "" : " ± " + label(s.err[i])) + "</title></circle>\n";
    const double ly = kH + kLegendRow * (double)k + 4;
    o += "<line x1=\"" + num(kLeft) + "\" x2=\"" + num(kLeft + 18) + "\" y1=\"" + num(ly) + "\" y2=\"" + num(ly) +
         "\" stroke=\"" + colour + "\" stroke-width=\"3\"/><text x=\"" + num(kLeft + 24) + "\" y=\"" + num(ly + 4) +
         "\">" + html_escape(s.name) + "</text>\n";
  }
  return o + "</svg>\n";
}

}  // namespace dasg
