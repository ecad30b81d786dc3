// data/glue.cpp — reading GLUE TSVs into padded, labelled token sequences.
#include "data/glue.hpp"

#include <charconv>

#include "data/corpus.hpp"
#include "data/utf8.hpp"
#include "engine/error.hpp"

namespace dasg::data {

GlueTask parse_glue_task(const std::string& name) {
  if (name == "sst2") return GlueTask::sst2;
  if (name == "mrpc") return GlueTask::mrpc;
  DASG_FAIL("unknown GLUE task '", name, "'; expected sst2 or mrpc");
}

static std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t pos = 0;
  while (true) {
    size_t e = line.find('\t', pos);
    fields.push_back(line.substr(pos, e == std::string_view::npos ? std::string_view::npos : e - pos));
    if (e == std::string_view::npos) return fields;
    pos = e + 1;
  }
}

static std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

ClassificationSet read_glue(const std::string& path, GlueTask task, Tokenizer& tok, int64_t T) {
  return parse_glue(read_text_file(path), path, task, tok, T);
}

ClassificationSet parse_glue(std::string_view text, const std::string& path, GlueTask task, Tokenizer& tok, int64_t T) {
  const bool pair = task == GlueTask::mrpc;
  const char* header = pair ? "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String" : "sentence\tlabel";
  const size_t n_fields = pair ? 5 : 2;
  DASG_CHECK(T >= (pair ? 3 : 1), path, ": T=", T, " is too short for this task");
  check_utf8(text, path);
  std::string_view rest(text);
  if (rest.starts_with("\xEF\xBB\xBF")) rest.remove_prefix(3);  // MRPC's UTF-8 BOM
  int32_t sep = tok.eot() >= 0 ? tok.eot() : int32_t('\n');

  ClassificationSet set;
  set.T = T;
  int64_t line_no = 0;
  std::vector<int32_t> a, b;
  while (!rest.empty()) {
    size_t e = rest.find('\n');
    std::string_view line = rest.substr(0, e);
    rest.remove_prefix(e == std::string_view::npos ? rest.size() : e + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    line_no++;
    if (line_no == 1) {
      DASG_CHECK(line == header, path, ":1: expected the header \"", header, "\"");
      continue;
    }
    std::vector<std::string_view> f = split_tabs(line);
    DASG_CHECK(f.size() == n_fields, path, ":", line_no, ": expected ", n_fields, " tab-separated fields, found ",
               f.size());
    std::string_view label_text = trim(pair ? f[0] : f[1]);
    int label = -1;
    auto [end, ec] = std::from_chars(label_text.data(), label_text.data() + label_text.size(), label);
    DASG_CHECK(ec == std::errc() && end == label_text.data() + label_text.size() && !label_text.empty(), path, ":",
               line_no, ": label \"", label_text, "\" is not an integer");
    DASG_CHECK(label == 0 || label == 1, path, ":", line_no, ": label ", label, " is outside 0..1");

    std::string_view s1 = trim(pair ? f[3] : f[0]), s2 = pair ? trim(f[4]) : std::string_view();
    DASG_CHECK(!s1.empty() && (!pair || !s2.empty()), path, ":", line_no, ": empty sentence");
    a.clear();
    b.clear();
    tok.encode(s1, a);
    if (pair) {
      tok.encode(s2, b);
      while (int64_t(a.size() + b.size() + 1) > T) (a.size() >= b.size() ? a : b).pop_back();
      a.push_back(sep);
      a.insert(a.end(), b.begin(), b.end());
    } else if (int64_t(a.size()) > T) {
      a.resize(size_t(T));
    }
    set.labels.push_back(label);
    set.lengths.push_back(int32_t(a.size()));
    a.resize(size_t(T), 0);
    set.tokens.insert(set.tokens.end(), a.begin(), a.end());
  }
  DASG_CHECK(set.size() > 0, path, ": no rows after the header");
  return set;
}

}  // namespace dasg::data
