// Suite "ops" and "gradcheck", the routing ops (issue 12): compare masks (values, NaN → 0, scalar
// and broadcast forms, no grad), where (values, select semantics, gradcheck in f64 with odd sizes
// and broadcasting) and group_by_key (a hand-computed example, a brute-force reference on random
// keys with −1s, visit orders and capacities, and the error texts).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "ops/compare.hpp"
#include "ops/dispatch.hpp"
#include "ops/elementwise.hpp"
#include "ops/reduce.hpp"
#include "tests/helpers.hpp"

using namespace dasg;
using test::random_keys;
using test::random_permutation;
using test::rand64;
using Inputs = std::vector<Tensor>;

namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

std::vector<float> values(const Tensor& t) { return t.to(DType::f32).to_vector<float>(); }

// The brute-force reference of group_by_key: per key, a list of slots in visit order.
struct Reference {
  std::vector<int32_t> rows, slots, counts, kept;
};
Reference reference(const std::vector<int32_t>& keys, int64_t R, int64_t k, int64_t E,
                    const std::vector<int32_t>& visit, int64_t capacity) {
  Reference ref;
  for (int64_t e = 0; e < E; ++e) {
    int32_t count = 0, keep = 0;
    for (int64_t j = 0; j < R; ++j) {
      const int64_t r = visit.empty() ? j : visit[(size_t)j];
      for (int64_t c = 0; c < k; ++c)
        if (keys[(size_t)(r * k + c)] == e) {
          ++count;
          if (capacity < 0 || keep < capacity) {
            ++keep;
            ref.rows.push_back((int32_t)r);
            ref.slots.push_back((int32_t)(r * k + c));
          }
        }
    }
    ref.counts.push_back(count);
    ref.kept.push_back(keep);
  }
  ref.rows.resize((size_t)(R * k), -1);
  ref.slots.resize((size_t)(R * k), -1);
  return ref;
}

}  // namespace

TEST_SUITE("ops") {
  TEST_CASE("compare: values, NaN compares false, scalar and broadcast forms") {
    Tensor a = Tensor::from_vector<float>({1, 2, 3, kNaN, -kInf, 2}, {2, 3});
    Tensor b = Tensor::from_vector<float>({2, 2, 2, 2, 2, kNaN}, {2, 3});
    CHECK(values(less(a, b)) == std::vector<float>{1, 0, 0, 0, 1, 0});
    CHECK(values(compare(a, b, Compare::less_equal)) == std::vector<float>{1, 1, 0, 0, 1, 0});
    CHECK(values(compare(a, b, Compare::greater)) == std::vector<float>{0, 0, 1, 0, 0, 0});
    CHECK(values(compare(a, b, Compare::greater_equal)) == std::vector<float>{0, 1, 1, 0, 0, 0});
    CHECK(values(less(a, 2.0)) == std::vector<float>{1, 0, 0, 0, 1, 0});
    CHECK(values(less_equal(a, 2.0)) == std::vector<float>{1, 1, 0, 0, 1, 1});
    CHECK(values(greater(a, 2.0)) == std::vector<float>{0, 0, 1, 0, 0, 0});
    CHECK(values(greater_equal(a, 2.0)) == std::vector<float>{0, 1, 1, 0, 0, 1});
    CHECK(values(less(a, (double)NAN)) == std::vector<float>{0, 0, 0, 0, 0, 0});
    // b broadcasting into a's shape: a per-row threshold [2, 1].
    Tensor t = Tensor::from_vector<float>({2.5f, 0}, {2, 1});
    CHECK(values(compare(a, t, Compare::greater)) == std::vector<float>{0, 0, 1, 0, 0, 1});
    // f64, the result in a's dtype, never requiring grad.
    Tensor x = Tensor::from_vector<double>({0.5, -1, 3}, {3});
    x.requires_grad_(true);
    Tensor m = greater(x, 0.0);
    CHECK(m.dtype() == DType::f64);
    CHECK(!m.requires_grad());
    CHECK(m.to_vector<double>() == std::vector<double>{1, 0, 1});
    CHECK(!less(x, x.detach()).requires_grad());
    // An empty tensor gives an empty mask.
    CHECK(less(Tensor::empty({0, 3}), 1.0).shape() == Shape{0, 3});
  }

  TEST_CASE("compare: errors") {
    Tensor a = Tensor::zeros({2, 3});
    CHECK_ERROR_CONTAINS(less(a, Tensor::zeros({3, 3})), "less", "[2, 3]", "[3, 3]");
    CHECK_ERROR_CONTAINS(less(a, Tensor::zeros({1, 2, 3})), "less", "expected b of a's shape");
    CHECK_ERROR_CONTAINS(less(a, Tensor::zeros({2, 3}, DType::f64)), "less", "different dtypes");
    CHECK_ERROR_CONTAINS(greater(Tensor::zeros({2}, DType::i32), 0.0), "greater", "i32");
  }

  TEST_CASE("where: values, broadcasting and select semantics") {
    Tensor m = Tensor::from_vector<float>({1, 0, 0, 1, 1, 0}, {2, 3});
    Tensor a = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor b = Tensor::from_vector<float>({-1, -2, -3, -4, -5, -6}, {2, 3});
    CHECK(values(where(m, a, b)) == std::vector<float>{1, -2, -3, 4, 5, -6});
    CHECK(values(where(m, a, -kInf)) == std::vector<float>{1, -kInf, -kInf, 4, 5, -kInf});
    // b a row [3], mask a column [2, 1]: all broadcast to [2, 3].
    Tensor row = Tensor::from_vector<float>({7, 8, 9}, {3});
    Tensor col = Tensor::from_vector<float>({0, 1}, {2, 1});
    CHECK(values(where(m, a, row)) == std::vector<float>{1, 8, 9, 4, 5, 9});
    CHECK(values(where(col, a, row)) == std::vector<float>{7, 8, 9, 4, 5, 6});
    CHECK(where(col, row, 0.0).shape() == Shape{2, 3});
    // An unselected inf or NaN neither reaches the output nor the gradient.
    Tensor x = Tensor::from_vector<float>({kNaN, 2, kInf}, {3});
    x.requires_grad_(true);
    Tensor sel = Tensor::from_vector<float>({0, 1, 0}, {3});
    Tensor y = where(sel, x, 0.0);
    CHECK(values(y) == std::vector<float>{0, 2, 0});
    sum(y).backward();
    CHECK(values(x.grad()) == std::vector<float>{0, 1, 0});
    // The mask gets no gradient; the result needs grad only through a or b.
    CHECK(!where(sel, x.detach(), 1.0).requires_grad());
  }

  TEST_CASE("where: errors") {
    Tensor m = Tensor::zeros({2, 3});
    CHECK_ERROR_CONTAINS(where(m, Tensor::zeros({2, 4}), 0.0), "where", "[2, 3]", "[2, 4]", "do not broadcast");
    CHECK_ERROR_CONTAINS(where(m, Tensor::zeros({2, 3}), Tensor::zeros({4})), "where", "do not broadcast");
    CHECK_ERROR_CONTAINS(where(Tensor::zeros({2, 3}, DType::f64), Tensor::zeros({2, 3}), 0.0), "where",
                         "expected a mask of a's dtype");
    CHECK_ERROR_CONTAINS(where(m, Tensor::zeros({2, 3}), Tensor::zeros({2, 3}, DType::f64)), "where", "different dtypes");
  }

  TEST_CASE("group_by_key: a hand-computed example") {
    // R = 4 rows, k = 2 slots; keys (row: slots) 0: [1, 0]  1: [−1, 1]  2: [1, 2]  3: [0, 1]; E = 3.
    Tensor keys = Tensor::from_vector<int32_t>({1, 0, -1, 1, 1, 2, 0, 1}, {4, 2});
    KeyGroups g = group_by_key(keys, 3);
    // key 0: slots 1 (row 0), 6 (row 3); key 1: slots 0, 3, 4, 7; key 2: slot 5; one unused (the −1).
    CHECK(g.rows.to_vector<int32_t>() == std::vector<int32_t>{0, 3, 0, 1, 2, 3, 2, -1});
    CHECK(g.slots.to_vector<int32_t>() == std::vector<int32_t>{1, 6, 0, 3, 4, 7, 5, -1});
    CHECK(g.counts.to_vector<int32_t>() == std::vector<int32_t>{2, 4, 1});
    CHECK(g.kept.to_vector<int32_t>() == std::vector<int32_t>{2, 4, 1});
    CHECK(g.counts_host == std::vector<int32_t>{2, 4, 1});
    CHECK(g.kept_host == std::vector<int32_t>{2, 4, 1});
    // Visit order 3, 1, 0, 2 and capacity 2: key 1 keeps rows 3 (slot 7), 1 (slot 3); key 0 rows 3, 0.
    KeyGroups v = group_by_key(keys, 3, Tensor::from_vector<int32_t>({3, 1, 0, 2}, {4}), 2);
    CHECK(v.rows.to_vector<int32_t>() == std::vector<int32_t>{3, 0, 3, 1, 2, -1, -1, -1});
    CHECK(v.slots.to_vector<int32_t>() == std::vector<int32_t>{6, 1, 7, 3, 5, -1, -1, -1});
    CHECK(v.counts.to_vector<int32_t>() == std::vector<int32_t>{2, 4, 1});
    CHECK(v.kept.to_vector<int32_t>() == std::vector<int32_t>{2, 2, 1});
    CHECK(v.kept_host == std::vector<int32_t>{2, 2, 1});
    // Capacity 0 keeps nothing; all keys −1 or no rows keep nothing either.
    KeyGroups z = group_by_key(keys, 3, Tensor(), 0);
    CHECK(z.rows.to_vector<int32_t>() == std::vector<int32_t>(8, -1));
    CHECK(z.kept.to_vector<int32_t>() == std::vector<int32_t>{0, 0, 0});
    CHECK(z.counts.to_vector<int32_t>() == std::vector<int32_t>{2, 4, 1});
    KeyGroups none = group_by_key(Tensor::full({3, 1}, -1, DType::i32), 2);
    CHECK(none.slots.to_vector<int32_t>() == std::vector<int32_t>{-1, -1, -1});
    CHECK(none.counts.to_vector<int32_t>() == std::vector<int32_t>{0, 0});
    KeyGroups empty = group_by_key(Tensor::empty({0, 2}, DType::i32), 4, Tensor::empty({0}, DType::i32));
    CHECK(empty.rows.numel() == 0);
    CHECK(empty.counts.to_vector<int32_t>() == std::vector<int32_t>{0, 0, 0, 0});
  }

  TEST_CASE("group_by_key: brute-force reference on random keys, visit orders and capacities") {
    Generator g(121);
    for (auto [R, k, E] : {std::tuple{1, 1, 1}, {3, 2, 4}, {17, 1, 3}, {129, 2, 8}, {5000, 2, 16}, {257, 4, 300}})
      for (bool use_visit : {false, true})
        for (int64_t capacity : {-1, 0, 1, 5, 100000}) {
          INFO("R = " << R << ", k = " << k << ", E = " << E << ", visit " << use_visit << ", capacity " << capacity);
          const std::vector<int32_t> keys = random_keys((int64_t)R * k, E, g);
          const std::vector<int32_t> visit = use_visit ? random_permutation(R, g) : std::vector<int32_t>{};
          const Reference ref = reference(keys, R, k, E, visit, capacity);
          KeyGroups out = group_by_key(Tensor::from_vector<int32_t>(keys, {R, k}), E,
                                       use_visit ? Tensor::from_vector<int32_t>(visit, {R}) : Tensor(), capacity);
          CHECK(out.rows.to_vector<int32_t>() == ref.rows);
          CHECK(out.slots.to_vector<int32_t>() == ref.slots);
          CHECK(out.counts.to_vector<int32_t>() == ref.counts);
          CHECK(out.kept.to_vector<int32_t>() == ref.kept);
          CHECK(out.counts_host == ref.counts);
          CHECK(out.kept_host == ref.kept);
        }
  }

  TEST_CASE("group_by_key: errors") {
    Tensor keys = Tensor::from_vector<int32_t>({1, 0, -1, 3, 1, 2}, {3, 2});
    CHECK_ERROR_CONTAINS(group_by_key(keys, 3), "group_by_key", "key 3 at [1, 1]", "keys [3, 2]", "n_keys = 3");
    CHECK_ERROR_CONTAINS(group_by_key(keys, 0), "group_by_key", "n_keys = 0", "expected 1 <= n_keys");
    CHECK_ERROR_CONTAINS(group_by_key(keys.view({6}), 4), "group_by_key", "i32[6]", "2-D i32");
    CHECK_ERROR_CONTAINS(group_by_key(Tensor::zeros({3, 2}), 4), "group_by_key", "f32[3, 2]", "2-D i32");
    CHECK_ERROR_CONTAINS(group_by_key(keys, 4, Tensor::from_vector<int32_t>({0, 1}, {2})), "group_by_key",
                         "visit is i32[2]", "expected i32 [3]");
    CHECK_ERROR_CONTAINS(group_by_key(keys, 4, Tensor::from_vector<int32_t>({0, 3, 1}, {3})), "group_by_key",
                         "visit[1] = 3 is out of range", "permutation of the rows 0..2");
    CHECK_ERROR_CONTAINS(group_by_key(keys, 4, Tensor::from_vector<int32_t>({2, 0, 2}, {3})), "group_by_key",
                         "row 1 appears 0 times");
  }
}

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck:where") {
    Generator g(122);
    // (mask, a, b) shapes: same, b broadcast (trailing, leading, outer), mask broadcast, a broadcast.
    std::vector<std::tuple<Shape, Shape, Shape>> shapes{{{3, 17}, {3, 17}, {3, 17}}, {{2, 3, 17}, {2, 3, 17}, {17}},
                                                        {{129}, {129}, {1}},         {{3, 5}, {3, 1}, {1, 5}},
                                                        {{3, 1}, {3, 5}, {5}},       {{1}, {1}, {1}}};
    for (auto& [sm, sa, sb] : shapes) {
      Tensor m = greater(Tensor::rand(sm, g, -1, 1, DType::f64), 0.0);
      Tensor a = rand64(sa, g), b = rand64(sb, g);
      CHECK_GRADCHECK([m](const Inputs& in) { return where(m, in[0], in[1]); }, (Inputs{a, b}));
      CHECK_GRADCHECK([m](const Inputs& in) { return where(m, in[0], -0.5); }, (Inputs{a}));
    }
  }
}
