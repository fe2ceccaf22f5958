#include "io/memory_link.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "proto/wire/ethernet.hpp"
#include "proto/wire/ipv4.hpp"
#include "proto/wire/tcp.hpp"

using namespace coronet;
using namespace coronet::io;
using namespace std::chrono_literals;
namespace tf = coronet::wire::tcp_flag;

namespace {

constexpr link_dir ab = link_dir::a_to_b;
constexpr link_dir ba = link_dir::b_to_a;

time_point at(duration d) { return time_point{d}; }

// A tiny frame whose first byte tags it.
std::vector<std::uint8_t> tagged(std::uint8_t tag) { return std::vector<std::uint8_t>(20, tag); }

// An Ethernet/IPv4/TCP frame carrying `flags`.
std::vector<std::uint8_t> tcp_frame(std::uint8_t flags) {
  std::vector<std::uint8_t> f(14 + 20 + 20);
  const ipv4_addr src = make_ipv4(198, 18, 0, 1), dst = make_ipv4(198, 18, 0, 2);
  wire::emit(wire::ethernet_header{mac_addr::broadcast(), mac_addr{}, 0x0800}, f);
  wire::ipv4_header ip;
  ip.src = src;
  ip.dst = dst;
  ip.proto = 6;
  ip.payload_len = 20;
  wire::emit(ip, mut_bytes(f).subspan(14));
  wire::tcp_header t;
  t.src_port = 1000;
  t.dst_port = 80;
  t.flags = flags;
  wire::emit(t, {}, src, dst, mut_bytes(f).subspan(34));
  return f;
}

// Everything due in `d` at `now`, by tag.
std::vector<std::uint8_t> drain(memory_link& l, link_dir d, time_point now) {
  std::vector<std::uint8_t> tags, f;
  while (l.pop(d, now, f)) tags.push_back(f.empty() ? 0 : f[0]);
  return tags;
}

void send(memory_link& l, link_dir d, std::uint8_t tag, time_point now) {
  auto f = tagged(tag);
  l.send(d, f, now);
}

}  // namespace

TEST_CASE("memory_link: no programming -> frames delivered at once, in order") {
  memory_link l;
  for (std::uint8_t i = 1; i <= 3; ++i) send(l, ab, i, at(0s));
  CHECK(l.next_delivery() == at(0s));
  CHECK(drain(l, ab, at(0s)) == std::vector<std::uint8_t>{1, 2, 3});
  CHECK(drain(l, ba, at(0s)).empty());
  CHECK(l.stats(ab).sent == 3);
  CHECK(l.stats(ab).delivered == 3);
  CHECK(l.stats(ab).dropped == 0);
  CHECK_FALSE(l.next_delivery());
}

TEST_CASE("memory_link: drop_next(2) -> the first two frames lost, the third delivered") {
  memory_link l;
  l.drop_next(ab, 2);
  for (std::uint8_t i = 1; i <= 3; ++i) send(l, ab, i, at(0s));
  send(l, ba, 9, at(0s));  // the other direction is untouched
  CHECK(drain(l, ab, at(0s)) == std::vector<std::uint8_t>{3});
  CHECK(drain(l, ba, at(0s)) == std::vector<std::uint8_t>{9});
  CHECK(l.stats(ab).dropped == 2);
}

TEST_CASE("memory_link: fixed delay -> frame due exactly delay later") {
  memory_link l;
  l.set_delay(ab, 5ms);
  send(l, ab, 1, at(1ms));
  CHECK(l.next_delivery() == at(6ms));
  CHECK(drain(l, ab, at(6ms) - 1ns).empty());
  CHECK(drain(l, ab, at(6ms)) == std::vector<std::uint8_t>{1});
}

TEST_CASE("memory_link: reorder_next(2) -> held frame delivered after the next two") {
  memory_link l;
  l.reorder_next(ab, 2);
  for (std::uint8_t i = 1; i <= 4; ++i) send(l, ab, i, at(0s));
  CHECK(drain(l, ab, at(0s)) == std::vector<std::uint8_t>{2, 3, 1, 4});
}

TEST_CASE("memory_link: held frame with too few followers -> released on demand") {
  memory_link l;
  l.reorder_next(ab, 5);
  send(l, ab, 1, at(0s));
  CHECK(l.in_flight(ab) == 1);
  CHECK_FALSE(l.next_delivery());
  l.release_held(ab, at(2s));
  CHECK(drain(l, ab, at(2s)) == std::vector<std::uint8_t>{1});
}

TEST_CASE("memory_link: duplicate probability 1 -> every frame twice") {
  memory_link l;
  l.set_duplicate(ab, 1.0);
  send(l, ab, 1, at(0s));
  send(l, ab, 2, at(0s));
  CHECK(drain(l, ab, at(0s)) == std::vector<std::uint8_t>{1, 1, 2, 2});
  CHECK(l.stats(ab).duplicated == 2);
  CHECK(l.stats(ab).delivered == 4);
}

TEST_CASE("memory_link: loss 0.3 with one seed -> the same frames lost on every run") {
  auto run = [](std::uint64_t seed) {
    memory_link l(seed);
    l.set_loss(ab, 0.3);
    for (int i = 0; i < 1000; ++i) send(l, ab, static_cast<std::uint8_t>(i), at(0s));
    std::vector<std::uint8_t> got = drain(l, ab, at(0s));
    CHECK(l.stats(ab).dropped + got.size() == 1000);
    return got;
  };
  auto a = run(42), b = run(42), c = run(43);
  CHECK(a == b);
  CHECK(a != c);
  // 1000 draws at p = 0.3: 300 expected, the bounds are ~6 standard deviations.
  CHECK(a.size() > 600);
  CHECK(a.size() < 800);
}

TEST_CASE("memory_link: filter dropping the next SYN-ACK -> only that frame lost") {
  memory_link l;
  int left = 1;
  l.set_filter(ba, [&left](bytes f) {
    if (left > 0 && memory_link::is_tcp(f, tf::syn | tf::ack)) {
      --left;
      return true;
    }
    return false;
  });
  auto synack = tcp_frame(tf::syn | tf::ack), ack = tcp_frame(tf::ack);
  l.send(ba, ack, at(0s));
  l.send(ba, synack, at(0s));
  l.send(ba, synack, at(1s));
  std::vector<std::uint8_t> f;
  std::vector<std::uint8_t> flags;
  while (l.pop(ba, at(1s), f)) flags.push_back(memory_link::tcp_of(f)->flags);
  CHECK(flags == std::vector<std::uint8_t>{tf::ack, static_cast<std::uint8_t>(tf::syn | tf::ack)});
  CHECK(l.stats(ba).dropped == 1);
}

TEST_CASE("memory_link: count -> TCP segments by flags per direction, lost ones included") {
  memory_link l;
  l.drop_next(ab, 1);
  l.send(ab, tcp_frame(tf::syn), at(0s));  // lost
  l.send(ab, tcp_frame(tf::syn), at(1s));
  l.send(ba, tcp_frame(tf::syn | tf::ack), at(1s));
  l.send(ab, tcp_frame(tf::ack | tf::psh), at(1s));
  l.send(ab, tagged(7), at(1s));  // not TCP
  CHECK(l.count(ab, tf::syn) == 2);
  CHECK(l.count(ba, tf::syn) == 0);
  CHECK(l.count(tf::syn | tf::ack) == 1);
  CHECK(l.count(ab, tf::ack) == 1);  // PSH ignored by the default mask
  CHECK(l.count(ab, tf::ack | tf::psh, 0xff) == 1);
  REQUIRE(l.segments().size() == 4);
  CHECK(l.segments()[0].dropped);
  CHECK_FALSE(l.segments()[1].dropped);
  CHECK(l.segments()[1].at == at(1s));
  CHECK(l.segments()[1].tcp.dst_port == 80);
}
