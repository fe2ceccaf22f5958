#include <doctest/doctest.h>

#include "proto/tcp/seq.hpp"

using namespace coronet::tcp;

TEST_CASE("seq: comparisons hold across the 2^32 wrap") {
  CHECK(seq_lt(0xfffffff0u, 0x10u));
  CHECK(seq_gt(0x10u, 0xfffffff0u));
  CHECK(seq_leq(5u, 5u));
  CHECK(seq_geq(5u, 5u));
  CHECK_FALSE(seq_lt(5u, 5u));
  CHECK(seq_lt(0x7ffffffeu, 0x7fffffffu));
  CHECK(seq_max(0xffffffffu, 3u) == 3u);
}

TEST_CASE("seq: seq_in is a half-open range modulo 2^32") {
  CHECK(seq_in(0xfffffffeu, 0xfffffff0u, 0x10u));
  CHECK(seq_in(0x5u, 0xfffffff0u, 0x10u));
  CHECK_FALSE(seq_in(0x10u, 0xfffffff0u, 0x10u));
  CHECK(seq_in(0xfffffff0u, 0xfffffff0u, 0x10u));
  CHECK_FALSE(seq_in(0xffffffefu, 0xfffffff0u, 0x10u));
  CHECK_FALSE(seq_in(7u, 7u, 7u));  // empty window
}
