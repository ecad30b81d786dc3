// engine/json.hpp — the one way the product reads JSON (configs, safetensors headers and
// metadata, state.json, encoder.json). nlohmann's parser and its dump() recurse once per nesting
// level, so a value nested 100,000 levels deep overflows the stack; parse_json() refuses nesting
// deeper than kJsonMaxDepth before nlohmann sees the text, and every error names `where` (a file
// name, or "file: key") with the byte offset and what was expected:
//   "runs/x/state.json: malformed JSON at byte offset 17: unexpected end of input; expected '}'"
//   "cfg.json: JSON nested deeper than 256 levels at byte offset 256"
// The typed getters read one key of an object and check its type and range, naming the key.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace dasg {

// Deepest nesting of arrays/objects accepted (our files nest at most 3 levels).
constexpr int kJsonMaxDepth = 256;

// Parses text (the whole of it). Throws dasg::Error "<where>: ..." on malformed JSON, nesting
// deeper than max_depth, or numbers out of range (e.g. 1e400).
nlohmann::json parse_json(std::string_view text, const std::string& where, int max_depth = kJsonMaxDepth);

// Reads and parses a whole file; errors name the file.
nlohmann::json read_json_file(const std::string& path, int max_depth = kJsonMaxDepth);

// The nesting depth of the deepest array/object in text, scanning at most until it exceeds
// limit (then returns limit + 1 and the byte offset where it did in *offset).
int json_depth(std::string_view text, int limit, size_t* offset = nullptr);

// v.dump(), cut to at most max_chars (with "..." appended), for error messages.
std::string json_excerpt(const nlohmann::json& v, size_t max_chars = 80);

// Typed reads of obj[key] (obj must be an object; `where` names the file or object):
//   "<where>: key 'step' is missing; expected an integer >= 0"
//   "<where>: key 'step' is 2.5; expected an integer in [0, 9223372036854775807]"
int64_t json_int(const nlohmann::json& obj, const char* key, const std::string& where, int64_t lo = INT64_MIN,
                 int64_t hi = INT64_MAX);
uint64_t json_uint(const nlohmann::json& obj, const char* key, const std::string& where);
double json_number(const nlohmann::json& obj, const char* key, const std::string& where);  // finite
bool json_bool(const nlohmann::json& obj, const char* key, const std::string& where);
std::string json_string(const nlohmann::json& obj, const char* key, const std::string& where);
// obj[key] checked to be an object / an array.
const nlohmann::json& json_object(const nlohmann::json& obj, const char* key, const std::string& where);
const nlohmann::json& json_array(const nlohmann::json& obj, const char* key, const std::string& where);

// A decimal integer string (as safetensors metadata holds numbers), checked to lie in [lo, hi]:
//   "<where>: \"abc\" is not an integer; expected an integer in [0, ...]"
int64_t parse_int(std::string_view s, const std::string& where, int64_t lo = INT64_MIN, int64_t hi = INT64_MAX);

}  // namespace dasg
