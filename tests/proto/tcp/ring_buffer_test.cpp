#include <doctest/doctest.h>

#include <vector>

#include "proto/tcp/ring_buffer.hpp"
#include "proto/tcp/timer_heap.hpp"

using namespace coronet;
using namespace coronet::tcp;

TEST_CASE("ring buffer: writes up to capacity, peeks two spans across the wrap") {
  ring_buffer r(8);
  std::vector<std::uint8_t> a{1, 2, 3, 4, 5, 6};
  CHECK(r.write(a) == 6);
  r.consume(4);
  std::vector<std::uint8_t> b{7, 8, 9, 10, 11, 12};
  CHECK(r.write(b) == 6);
  CHECK(r.free() == 0);
  auto [p, q] = r.peek(1, 6);
  CHECK(p.size() + q.size() == 6);
  CHECK(!q.empty());
  std::vector<std::uint8_t> got(p.begin(), p.end());
  got.insert(got.end(), q.begin(), q.end());
  CHECK(got == std::vector<std::uint8_t>{6, 7, 8, 9, 10, 11});
  std::vector<std::uint8_t> out(10);
  CHECK(r.read(out) == 8);
  CHECK(out[0] == 5);
  CHECK(out[7] == 12);
  CHECK(r.empty());
}

TEST_CASE("timer heap: later deadlines push nothing; the heap top is the earliest") {
  timer_heap h(4);
  timer_slot a, b;
  h.set(a, time_point{std::chrono::seconds(5)}, 1);
  h.set(a, time_point{std::chrono::seconds(9)}, 1);  // later: no new entry
  CHECK(h.size() == 1);
  h.set(b, time_point{std::chrono::seconds(2)}, 2);
  h.set(a, time_point{std::chrono::seconds(1)}, 1);  // earlier: pushed
  CHECK(h.size() == 3);
  CHECK(h.top().when == time_point{std::chrono::seconds(1)});
  CHECK(h.pop().conn == 1);
  CHECK(h.pop().conn == 2);
}

TEST_CASE("ring_buffer: drop_storage -> memory gone, capacity/size/free kept for the window") {
  tcp::ring_buffer r(4096);
  const std::uint8_t data[100] = {};
  REQUIRE(r.write(bytes{data, sizeof data}) == 100);
  r.drop_storage();
  CHECK_FALSE(r.has_storage());
  CHECK(r.capacity() == 4096);
  CHECK(r.size() == 100);
  CHECK(r.free() == 3996);
  CHECK(r.write(bytes{}) == 0);  // an empty write is still fine
}

TEST_CASE("ring_buffer: restart_if_empty -> an emptied ring writes at the start of its storage again") {
  ring_buffer r(64);
  const std::vector<std::uint8_t> a{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  REQUIRE(r.write(a) == 10);
  const std::uint8_t* start = r.peek(0, 10).first.data();
  std::vector<std::uint8_t> out(10);
  REQUIRE(r.read(out) == 10);

  SUBCASE("without it, the next write follows the last") {
    REQUIRE(r.write(std::vector<std::uint8_t>{11, 12}) == 2);
    CHECK(r.peek(0, 2).first.data() == start + 10);
  }
  SUBCASE("with it, the next write goes to the start") {
    r.restart_if_empty();
    REQUIRE(r.write(std::vector<std::uint8_t>{11, 12}) == 2);
    CHECK(r.peek(0, 2).first.data() == start);
    std::vector<std::uint8_t> two(2);
    CHECK(r.read(two) == 2);
    CHECK(two == std::vector<std::uint8_t>{11, 12});
  }
  SUBCASE("a ring that is not empty keeps its front") {
    REQUIRE(r.write(std::vector<std::uint8_t>{11, 12, 13}) == 3);
    std::vector<std::uint8_t> one(1);
    REQUIRE(r.read(one) == 1);
    r.restart_if_empty();
    auto [p, q] = r.peek(0, 2);
    CHECK(p.data() == start + 11);
    CHECK(std::vector<std::uint8_t>(p.begin(), p.end()) == std::vector<std::uint8_t>{12, 13});
    CHECK(q.empty());
  }
}
