#!/usr/bin/env bash
# tests/browser_check.sh — the HTML pages in a real browser (tests/run.sh runs it after dist.sh):
# from a tiny ListOps experiment (2 cells x 2 seeds, 12 steps) and a tiny language-model run,
# `dasg report` writes report.html and `dasg inspect --html` the routing view; headless Chromium
# renders both (no network: every host name resolves to nothing) and
#   - fails on any console message (a script error, a resource that could not load, a check
#     below that failed); a page logging console.error first proves the log is read;
#   - in a copy of each page with a check script added, counts through the browser's DOM: every
#     plot's polylines hold (SVGPointList, as the browser parsed them) the data-points the plot
#     declares, more than none, laid out with a non-empty box; its markers and error bars as
#     declared; every layer of the routing view a span per token and the table a row per token;
#     the script writes what it counted into the page and `--dump-dom` prints it here, where it
#     is compared with what these runs must give (plots, steps, tokens).
# Chromium is a test tool: installed here when missing (apt-get update first), never by
# third_party/install.sh. 7–9 s on the loaded 2-core machine, the install aside (2.5 min here).
# Usage: tests/browser_check.sh [BUILD_DIR]   (default build; SHOTS=DIR also writes PNG
#        screenshots of both pages there)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
DASG="$BUILD/apps/dasg"

browser() {
  for b in chromium-headless-shell chromium chromium-browser; do
    command -v "$b" >/dev/null && { command -v "$b"; return; }
  done
  [ -x /usr/lib/chromium/chromium-headless-shell ] && echo /usr/lib/chromium/chromium-headless-shell
  true
}
[ -n "$(browser)" ] || bash third_party/install.sh --tools browser || true
CHROME=$(browser)
if [ -z "$CHROME" ]; then
  echo "browser_check.sh: SKIPPED: no Chromium on PATH and chromium-headless-shell could not be installed"
  exit 0
fi
[ -x "$DASG" ] || { echo "browser_check.sh: FAILED: $DASG was not built"; exit 1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fail() { echo "browser_check.sh: FAILED: $*" >&2; exit 1; }  # stderr: also from inside $(...)
export DASG_NUM_THREADS=1 OMP_WAIT_POLICY=passive

# One page in the browser: $1 the page, $2 what to do (--dump-dom or --screenshot=FILE); the
# page's output on stdout, the browser's log in $W/log.
render() {
  timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu --user-data-dir="$W/profile" \
    --host-resolver-rules="MAP * ~NOTFOUND" --enable-logging=stderr --v=0 --log-level=0 \
    --window-size=1100,1400 --hide-scrollbars --virtual-time-budget=5000 "$2" "file://$1" 2> "$W/log"
}
console() { grep -E 'CONSOLE|Uncaught' "$W/log" || true; }

echo "== browser 1/4: $("$CHROME" --version 2>/dev/null | head -1); the console log is read"
printf '<!DOCTYPE html><html><body><script>console.error("browser_check self-test")</script></body></html>' > "$W/selftest.html"
render "$W/selftest.html" --dump-dom > /dev/null
console | grep -q "browser_check self-test" || { cat "$W/log"; fail "a console.error did not reach the log"; }

echo "== browser 2/4: a tiny experiment and language-model run, dasg report, dasg inspect --html"
STEPS=12
cat > "$W/spec.json" <<JSON
{"task": "listops", "config": "dasg-tiny", "steps": $STEPS, "seeds": 2, "seq_len": 32,
 "grid": {"adr.random": [false, true]},
 "args": ["--batch", "4", "--warmup", "2", "--min-len", "8", "--train-size", "64", "--dev-size", "16",
          "--test-size", "16", "--eval-every", "6"]}
JSON
"$DASG" experiment "$W/spec.json" --out "$W/exp" --jobs 2 --threads 2 > "$W/exp.log" 2>&1 || { cat "$W/exp.log"; fail "dasg experiment"; }
"$DASG" tokenize --default --out "$W/shards" > /dev/null 2>&1 || fail "dasg tokenize --default"
LM_STEPS=8
"$DASG" train --config dasg-tiny --data "$W/shards" --steps $LM_STEPS --batch 2 --seq-len 32 --eval-batches 1 \
  --out "$W/lm" --quiet > "$W/lm.log" 2>&1 || { cat "$W/lm.log"; fail "dasg train"; }
"$DASG" report "$W/exp" "$W/lm" --out "$W/report.html" --title 'browser check <&>' > "$W/report.log" || fail "dasg report"
TEXT='Pretty good: <b>&amp; "quoted" deep?</b>'
"$DASG" inspect --checkpoint "$W/lm/checkpoint" --text "$TEXT" --html "$W/routing.html" > "$W/inspect.log" || fail "dasg inspect"
echo "   $(cat "$W/report.log"); routing view of ${#TEXT} tokens"

CHECK='<script>(function () {
  let bad = 0;
  const fail = (m) => { bad++; console.error("browser_check: " + m); };
  const plots = [...document.querySelectorAll("svg.plot")];
  const loss = [];
  plots.forEach((s, i) => {
    const title = s.querySelector("title").textContent;
    let points = 0;
    s.querySelectorAll("polyline.line").forEach((l) => {
      const n = l.points.numberOfItems;
      if (n !== +l.dataset.n) fail(`plot ${i} (${title}): a line holds ${n} points, declares ${l.dataset.n}`);
      if (n > 1 && !(l.getBBox().width > 0)) fail(`plot ${i} (${title}): a line of ${n} points has an empty box`);
      points += n;
    });
    if (points !== +s.dataset.points || points === 0) fail(`plot ${i} (${title}): ${points} points, declares ${s.dataset.points}`);
    const m = s.querySelectorAll("circle.pt").length, b = s.querySelectorAll("path.err").length;
    if (m !== +s.dataset.markers) fail(`plot ${i} (${title}): ${m} markers, declares ${s.dataset.markers}`);
    if (b !== +s.dataset.bars) fail(`plot ${i} (${title}): ${b} error bars, declares ${s.dataset.bars}`);
    if (title === "training loss") loss.push(points);
  });
  const layers = [...document.querySelectorAll("div.layer")].map((d) => {
    const n = d.querySelectorAll("span.t").length;
    if (n !== +d.dataset.tokens) fail(`layer ${d.dataset.layer}: ${n} tokens, declares ${d.dataset.tokens}`);
    return n;
  });
  const table = document.querySelector("table.tokens");
  const rows = table ? table.querySelectorAll("tr.tok").length : 0;
  if (table && rows !== +table.dataset.rows) fail(`table: ${rows} rows, declares ${table.dataset.rows}`);
  const pre = document.createElement("pre");
  pre.id = "browser-check";
  pre.textContent = `CHECK plots=${plots.length} loss=${loss.join(",")} layers=${layers.join(",")} rows=${rows} failed=${bad}`;
  document.body.appendChild(pre);
})();</script>'
# The page with the check appended, rendered; prints the check's line.
checked() {
  { sed 's#</body>##; s#</html>##' "$1"; printf '%s\n</body></html>\n' "$CHECK"; } > "$W/checked.html"
  render "$W/checked.html" --dump-dom > "$W/dom.html"
  [ -z "$(console)" ] || { console >&2; fail "$2: console messages"; }
  grep -o '<pre id="browser-check">[^<]*' "$W/dom.html" | sed 's/.*>//' | grep . || fail "$2: the check script wrote nothing (did it run?)"
}

echo "== browser 3/4: report.html"
# 2 cells: test_accuracy and tokens/s against adr.random, test_accuracy against the deep rate,
# 7 plots per cell; the LM run: loss, val_loss, deep rate, entropy, 2 loads.
want="CHECK plots=$((3 + 2 * 7 + 6)) loss=$STEPS,$STEPS,$LM_STEPS layers= rows=0 failed=0"
got=$(checked "$W/report.html" report.html)
echo "   $got"
[ "$got" = "$want" ] || fail "report.html: expected '$want'"
[ -z "$(grep -o 'https\?://[^" ]*' "$W/report.html" | grep -v '^http://www.w3.org/2000/svg$' || true)" ] || fail "report.html names a URL"

echo "== browser 4/4: the routing view"
want="CHECK plots=0 loss= layers=${#TEXT},${#TEXT} rows=${#TEXT} failed=0"
got=$(checked "$W/routing.html" routing.html)
echo "   $got"
[ "$got" = "$want" ] || fail "routing view: expected '$want'"

if [ -n "${SHOTS:-}" ]; then
  mkdir -p "$SHOTS"
  render "$W/report.html" --screenshot="$SHOTS/report.png" > /dev/null
  render "$W/routing.html" --screenshot="$SHOTS/routing.png" > /dev/null
  echo "   screenshots in $SHOTS"
fi
echo "browser_check.sh: all passed"
