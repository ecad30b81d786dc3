// HTML text for the pages dasg writes (train/report.hpp, train/routing_view.hpp): escaping, and
// one self-contained page around a body (inline style only: no script, no external resource).
#pragma once
#include <string>
#include <string_view>

namespace dasg {

// `s` as HTML text or an attribute value (also valid XML, so in a standalone SVG): & < > " '
// become entities; a byte that is not part of valid UTF-8, and a control byte other than tab and
// newline, becomes the visible text \xNN (so a run's name or a byte token is shown, never
// interpreted and never makes the page invalid UTF-8).
std::string html_escape(std::string_view s);

// <!DOCTYPE html> ... with <meta charset="utf-8">, the escaped title, `style` inside <style> and
// `body` (already HTML) inside <body>.
std::string html_page(const std::string& title, const std::string& style, const std::string& body);

}  // namespace dasg
