// Line charts as inline SVG, written here (no plotting library): the plots of `dasg report`
// (train/report.hpp). A plot is a set of series, each a line through its points (x ascending),
// optionally with a band (lo..hi at every point: the seeds' spread), error bars (± err) and a
// marker at every point. The x axis is numeric, or categorical when `x_ticks` names the values at
// x = 0, 1, 2, ... (a swept value). The axes span the data, bands and bars, padded by 5%.
//
// What the SVG holds, so a reader of the DOM can check it (tests/browser_check.sh):
//   <svg class="plot" data-points="N" data-markers="M" data-bars="K" ...>: N data points in all;
//   per series one <polyline class="line" data-n="n"> holding its n points (n >= 1; unstroked
//   when the series has no line), a
//   <polygon class="band"> when it has a band, a <circle class="pt"> per point when it has
//   markers (M in all), a <path class="err"> per point with a finite err (K in all).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dasg {

struct PlotSeries {
  std::string name;
  std::vector<double> x, y;
  std::vector<double> lo, hi;  // a band: both empty, or one value per point
  std::vector<double> err;     // error-bar half-widths: empty, or one per point (NaN: no bar)
  bool markers = false;        // always drawn for a series of one point
  bool line = true;            // false: the points are not joined (the polyline is there, unstroked)
};

struct Plot {
  std::string title, x_label, y_label;
  std::vector<PlotSeries> series;
  std::vector<std::string> x_ticks;  // non-empty: categorical x, x_ticks[i] labels x = i
};

// Throws dasg::Error naming the plot and the series when a series is empty, its vectors'
// lengths differ, a value is not finite, or a categorical x is not one of 0..x_ticks.size()-1.
std::string svg_plot(const Plot& plot);

}  // namespace dasg
