// Suite "engine: json": depth-limited parsing, errors naming where and the byte offset, typed
// reads with ranges (engine/json.hpp).
#include <doctest/doctest.h>

#include "engine/json.hpp"
#include "tests/helpers.hpp"

using namespace dasg;
using nlohmann::json;

TEST_SUITE("engine: json") {
  TEST_CASE("json: nesting depth is limited before the parser recurses") {
    CHECK(json_depth("[[1], {\"a\": [2]}]", 100) == 3);
    CHECK(json_depth("\"[[[[\" ", 2) == 0);           // brackets inside strings do not count
    CHECK(json_depth("[\"\\\"[[[\"]", 2) == 1);        // nor after an escaped quote
    size_t at = 0;
    CHECK(json_depth("[[[[", 2, &at) == 3);
    CHECK(at == 2);
    CHECK(parse_json(std::string(256, '[') + std::string(256, ']'), "f").is_array());
    const std::string deep = std::string(300000, '[') + std::string(300000, ']');
    CHECK_ERROR_CONTAINS(parse_json(deep, "f.json"), "f.json: JSON nested deeper than 256 levels at byte offset 256");
    CHECK_ERROR_CONTAINS(parse_json("{\"a\": 1", "g.json"), "g.json: malformed JSON at byte offset 8");
    CHECK_ERROR_CONTAINS(parse_json("[1e400]", "h.json"), "h.json: malformed JSON", "number overflow");
    // a megabyte-long bad token is not quoted whole
    std::string msg;
    try {
      parse_json("[\"" + std::string(1 << 20, 'x') + "\x01\"]", "i.json");
    } catch (const Error& e) {
      msg = e.what();
    }
    CHECK(msg.find("i.json: malformed JSON") == 0);
    CHECK(msg.size() < 400);
    CHECK_ERROR_CONTAINS(read_json_file("/nonexistent/x.json"), "/nonexistent/x.json: cannot open");
  }

  TEST_CASE("json: typed reads name the key and the expected range") {
    const json j = json::parse(R"({"n": 5, "neg": -5, "frac": 2.5, "big": 18446744073709551615, "s": "x",
                                   "b": true, "o": {}, "a": [], "inf": 1e308})");
    CHECK(json_int(j, "n", "w", 0, 10) == 5);
    CHECK_ERROR_CONTAINS(json_int(j, "neg", "w", 0, 10), "w: key 'neg' is -5; expected an integer in [0, 10]");
    CHECK_ERROR_CONTAINS(json_int(j, "frac", "w"), "w: key 'frac' is 2.5");
    CHECK_ERROR_CONTAINS(json_int(j, "big", "w"), "key 'big' is 18446744073709551615");
    CHECK_ERROR_CONTAINS(json_int(j, "none", "w"), "w: key 'none' is missing");
    CHECK(json_uint(j, "big", "w") == UINT64_MAX);
    CHECK_ERROR_CONTAINS(json_uint(j, "neg", "w"), "expected a non-negative integer");
    CHECK(json_number(j, "frac", "w") == 2.5);
    CHECK_ERROR_CONTAINS(json_number(j, "s", "w"), "expected a finite number");
    CHECK(json_bool(j, "b", "w"));
    CHECK_ERROR_CONTAINS(json_bool(j, "n", "w"), "expected true or false");
    CHECK(json_string(j, "s", "w") == "x");
    CHECK(json_object(j, "o", "w").is_object());
    CHECK_ERROR_CONTAINS(json_array(j, "o", "w"), "expected an array");
    CHECK_ERROR_CONTAINS(json_int(json::array(), "n", "w"), "expected a JSON object holding 'n'");
    CHECK(parse_int("42", "m") == 42);
    CHECK_ERROR_CONTAINS(parse_int("abc", "m", 0, 9), "m: \"abc\" is not an integer; expected an integer in [0, 9]");
    CHECK_ERROR_CONTAINS(parse_int("4x", "m"), "not an integer");
    CHECK_ERROR_CONTAINS(parse_int("", "m"), "not an integer");
    CHECK_ERROR_CONTAINS(parse_int("99999999999999999999", "m"), "not an integer");
    CHECK_ERROR_CONTAINS(parse_int("-1", "m", 0, 9), "-1 is out of range");
    CHECK(json_excerpt(json(std::string(500, 'y'))).size() == 83);
  }
}
