// engine/json.cpp — depth-limited JSON parsing and typed reads (see json.hpp).
#include "engine/json.hpp"

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include "engine/error.hpp"

namespace dasg {

using nlohmann::json;

int json_depth(std::string_view text, int limit, size_t* offset) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); i++) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') i++;  // the escaped character cannot end the string
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (depth > limit) {
        if (offset) *offset = i;
        return limit + 1;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      depth--;
    }
  }
  return deepest;
}

namespace {
// nlohmann's message without its "[json.exception.parse_error.101] parse error at line 1, column
// 5: " prefix, and cut: the "last read" part quotes the token, which can be megabytes long.
std::string short_message(const char* what) {
  std::string s(what);
  if (s.rfind("[json.exception.", 0) == 0 && s.find("] ") != std::string::npos) s = s.substr(s.find("] ") + 2);
  if (s.rfind("parse error", 0) == 0 && s.find(": ") != std::string::npos) s = s.substr(s.find(": ") + 2);
  if (s.size() > 200) s = s.substr(0, 200) + "...";
  return s;
}
}  // namespace

json parse_json(std::string_view text, const std::string& where, int max_depth) {
  size_t at = 0;
  DASG_CHECK(json_depth(text, max_depth, &at) <= max_depth, where, ": JSON nested deeper than ", max_depth,
             " levels at byte offset ", at, "; expected a shallow JSON document");
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    DASG_FAIL(where, ": malformed JSON at byte offset ", e.byte, ": ", short_message(e.what()));
  } catch (const json::exception& e) {
    DASG_FAIL(where, ": malformed JSON: ", short_message(e.what()));
  }
}

json read_json_file(const std::string& path, int max_depth) {
  std::ifstream in(path, std::ios::binary);
  DASG_CHECK(in, path, ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  DASG_CHECK(!in.bad(), path, ": read failed");
  return parse_json(ss.str(), path, max_depth);
}

std::string json_excerpt(const json& v, size_t max_chars) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > max_chars) s = s.substr(0, max_chars) + "...";
  return s;
}

namespace {
const json& member(const json& obj, const char* key, const std::string& where, const char* expected) {
  DASG_CHECK(obj.is_object(), where, ": expected a JSON object holding '", key, "', got ", obj.type_name());
  auto it = obj.find(key);
  DASG_CHECK(it != obj.end(), where, ": key '", key, "' is missing; expected ", expected);
  return *it;
}
}  // namespace

int64_t json_int(const json& obj, const char* key, const std::string& where, int64_t lo, int64_t hi) {
  std::string expected = detail::concat("an integer in [", lo, ", ", hi, "]");
  const json& v = member(obj, key, where, expected.c_str());
  bool ok = false;
  int64_t x = 0;
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    ok = u <= uint64_t(INT64_MAX);
    x = ok ? int64_t(u) : 0;
  } else if (v.is_number_integer()) {
    x = v.get<int64_t>();
    ok = true;
  }
  DASG_CHECK(ok && x >= lo && x <= hi, where, ": key '", key, "' is ", json_excerpt(v), "; expected ", expected);
  return x;
}

uint64_t json_uint(const json& obj, const char* key, const std::string& where) {
  const json& v = member(obj, key, where, "a non-negative integer");
  DASG_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0), where, ": key '", key,
             "' is ", json_excerpt(v), "; expected a non-negative integer");
  return v.get<uint64_t>();
}

double json_number(const json& obj, const char* key, const std::string& where) {
  const json& v = member(obj, key, where, "a finite number");
  DASG_CHECK(v.is_number() && std::isfinite(v.get<double>()), where, ": key '", key, "' is ", json_excerpt(v),
             "; expected a finite number");
  return v.get<double>();
}

bool json_bool(const json& obj, const char* key, const std::string& where) {
  const json& v = member(obj, key, where, "true or false");
  DASG_CHECK(v.is_boolean(), where, ": key '", key, "' is ", json_excerpt(v), "; expected true or false");
  return v.get<bool>();
}

std::string json_string(const json& obj, const char* key, const std::string& where) {
  const json& v = member(obj, key, where, "a string");
  DASG_CHECK(v.is_string(), where, ": key '", key, "' is ", json_excerpt(v), "; expected a string");
  return v.get<std::string>();
}

const json& json_object(const json& obj, const char* key, const std::string& where) {
  const json& v = member(obj, key, where, "an object");
  DASG_CHECK(v.is_object(), where, ": key '", key, "' is ", json_excerpt(v), "; expected an object");
  return v;
}

const json& json_array(const json& obj, const char* key, const std::string& where) {
  const json& v = member(obj, key, where, "an array");
  DASG_CHECK(v.is_array(), where, ": key '", key, "' is ", json_excerpt(v), "; expected an array");
  return v;
}

int64_t parse_int(std::string_view s, const std::string& where, int64_t lo, int64_t hi) {
  int64_t x = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
  std::string shown(s.substr(0, 40));
  DASG_CHECK(!s.empty() && ec == std::errc() && end == s.data() + s.size(), where, ": \"", shown,
             s.size() > 40 ? "..." : "", "\" is not an integer; expected an integer in [", lo, ", ", hi, "]");
  DASG_CHECK(x >= lo && x <= hi, where, ": ", x, " is out of range; expected an integer in [", lo, ", ", hi, "]");
  return x;
}

}  // namespace dasg
