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
