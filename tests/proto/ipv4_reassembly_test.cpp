// IPv4 reassembly on its own: fragments built by hand, fed to one
// ipv4_reassembly, the datagram and the counters checked.
#include "proto/ipv4_reassembly.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "proto/wire/checksum.hpp"

using namespace coronet;
using namespace std::chrono_literals;
using packet = std::vector<std::uint8_t>;

namespace {

const ipv4_addr peer_ip = make_ipv4(198, 18, 0, 1);
const ipv4_addr our_ip = make_ipv4(198, 18, 0, 2);
constexpr std::uint8_t udp = 17;

time_point at(duration d) { return time_point{d}; }

struct frag_spec {
  std::uint16_t id = 1;
  std::size_t offset = 0;  // bytes, a multiple of 8
  bool more = true;
  ipv4_addr src = peer_ip;
  std::uint8_t proto = udp;
  std::uint8_t ttl = 64, tos = 0;
};

// One IPv4 fragment (20-byte header, valid checksum) carrying `data`.
packet fragment(const frag_spec& f, bytes data) {
  packet p(20 + data.size());
  wire::ipv4_header h;
  h.src = f.src;
  h.dst = our_ip;
  h.proto = f.proto;
  h.id = f.id;
  h.ttl = f.ttl;
  h.tos = f.tos;
  h.dont_fragment = false;
  h.payload_len = static_cast<std::uint16_t>(data.size());
  REQUIRE(wire::emit(h, p) == 20);
  store_be16(&p[6], static_cast<std::uint16_t>((f.more ? 0x2000 : 0) | (f.offset / 8)));
  store_be16(&p[10], 0);
  store_be16(&p[10], wire::internet_checksum(bytes(p).first(20)));
  std::copy(data.begin(), data.end(), p.begin() + 20);
  return p;
}

// A recognisable payload: byte i is (i * 7 + seed) mod 256.
packet pattern(std::size_t n, std::uint8_t seed = 3) {
  packet d(n);
  for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<std::uint8_t>(i * 7 + seed);
  return d;
}

// `payload` cut into pieces of `piece` bytes (a multiple of 8), the last MF=0.
std::vector<packet> split(const packet& payload, std::size_t piece, frag_spec f = {}) {
  std::vector<packet> out;
  for (std::size_t off = 0; off < payload.size(); off += piece) {
    std::size_t n = std::min(piece, payload.size() - off);
    f.offset = off;
    f.more = off + n < payload.size();
    out.push_back(fragment(f, bytes(payload).subspan(off, n)));
  }
  return out;
}

// The fixture: counters and a reassembly with Linux's defaults unless told.
struct reasm {
  counters stats;
  ipv4_reassembly r;
  explicit reasm(const settings& s = {}) : r(s, stats) {}

  // Feeds one fragment; returns the datagram's payload when it completed.
  std::optional<packet> feed(const packet& p, time_point now = at(0s)) {
    auto v = wire::ipv4_view::parse(p);
    REQUIRE(v);
    REQUIRE(v->is_fragment());
    auto whole = r.add(*v, now);
    if (!whole) return std::nullopt;
    CHECK_FALSE(whole->is_fragment());
    last = whole->header();
    return packet(whole->payload().begin(), whole->payload().end());
  }
  wire::ipv4_header last;
};

}  // namespace

// ---------------------------------------------------------------- complete datagrams

TEST_CASE("reassembly: three fragments in order -> one datagram, synthetic header, counted") {
  reasm t;
  const packet data = pattern(37);
  auto frags = split(data, 16);
  REQUIRE(frags.size() == 3);
  CHECK_FALSE(t.feed(frags[0]));
  CHECK_FALSE(t.feed(frags[1]));
  CHECK(t.r.in_progress() == 1);
  auto whole = t.feed(frags[2]);
  REQUIRE(whole);
  CHECK(*whole == data);
  CHECK(t.last.src == peer_ip);
  CHECK(t.last.dst == our_ip);
  CHECK(t.last.proto == udp);
  CHECK(t.last.id == 1);
  CHECK(t.last.payload_len == 37);
  CHECK(t.stats[counter::ip_reasm_reqds] == 3);
  CHECK(t.stats[counter::ip_reasm_oks] == 1);
  CHECK(t.stats.total_drops() == 0);
  CHECK(t.r.in_progress() == 0);
  CHECK_FALSE(t.r.next_deadline());
}

TEST_CASE("reassembly: fragments in reverse order -> complete on the first fragment") {
  reasm t;
  const packet data = pattern(100);
  auto frags = split(data, 24);
  REQUIRE(frags.size() == 5);
  for (std::size_t i = frags.size() - 1; i > 0; --i) CHECK_FALSE(t.feed(frags[i]));
  auto whole = t.feed(frags[0]);
  REQUIRE(whole);
  CHECK(*whole == data);
  CHECK(t.stats[counter::ip_reasm_reqds] == 5);
  CHECK(t.stats[counter::ip_reasm_oks] == 1);
  CHECK(t.stats.total_drops() == 0);
}

TEST_CASE("reassembly: 12 fragments in 50 random orders -> complete exactly on the last one") {
  const packet data = pattern(1400);
  auto frags = split(data, 120);
  REQUIRE(frags.size() == 12);
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    reasm t;
    std::vector<std::size_t> order(frags.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    for (std::size_t k = 0; k + 1 < order.size(); ++k) CHECK_FALSE(t.feed(frags[order[k]]));
    auto whole = t.feed(frags[order.back()]);
    REQUIRE(whole);
    CHECK(*whole == data);
    CHECK(t.stats[counter::ip_reasm_oks] == 1);
    CHECK(t.stats.total_drops() == 0);
  }
}

TEST_CASE("reassembly: largest datagram (65535 bytes with its header) -> accepted whole") {
  reasm t;
  const packet data = pattern(65535 - 20);
  auto frags = split(data, 1480);
  std::optional<packet> whole;
  for (const auto& f : frags) whole = t.feed(f);
  REQUIRE(whole);
  CHECK(*whole == data);
  CHECK(t.last.payload_len == 65515);
  CHECK(t.stats.total_drops() == 0);
}

TEST_CASE("reassembly: header fields come from the fragment at offset 0, whenever it arrives") {
  reasm t;
  const packet data = pattern(32);
  frag_spec first{.id = 9, .ttl = 33, .tos = 0x10};
  frag_spec second{.id = 9, .offset = 16, .more = false, .ttl = 99, .tos = 0x04};
  CHECK_FALSE(t.feed(fragment(second, bytes(data).subspan(16))));
  auto whole = t.feed(fragment(first, bytes(data).first(16)));
  REQUIRE(whole);
  CHECK(t.last.ttl == 33);
  CHECK(t.last.tos == 0x10);
  CHECK(t.last.id == 9);
  CHECK_FALSE(t.last.dont_fragment);
}

// ---------------------------------------------------------------- duplicates and overlaps

TEST_CASE("reassembly: identical duplicate fragments -> ignored, datagram completes, no drop counted") {
  reasm t;
  const packet data = pattern(48);
  auto frags = split(data, 16);
  CHECK_FALSE(t.feed(frags[0]));
  CHECK_FALSE(t.feed(frags[0]));
  CHECK_FALSE(t.feed(frags[2]));
  CHECK_FALSE(t.feed(frags[2]));
  auto whole = t.feed(frags[1]);
  REQUIRE(whole);
  CHECK(*whole == data);
  CHECK(t.stats[counter::ip_reasm_reqds] == 5);
  CHECK(t.stats[counter::ip_reasm_oks] == 1);
  CHECK(t.stats.total_drops() == 0);
}

TEST_CASE("reassembly: fragment inside data already held, other bytes -> duplicate, the first copy wins") {
  reasm t;
  const packet data = pattern(48);
  auto frags = split(data, 16);
  CHECK_FALSE(t.feed(frags[0]));
  CHECK_FALSE(t.feed(frags[1]));  // [0, 32) held as one range
  const packet other(16, 0xee);
  CHECK_FALSE(t.feed(fragment({.offset = 8}, other)));  // [8, 24): inside, spans the old boundary
  auto whole = t.feed(frags[2]);
  REQUIRE(whole);
  CHECK(*whole == data);
  CHECK(t.stats.total_drops() == 0);
}

TEST_CASE("reassembly: overlapping fragment -> whole datagram dropped, IpExtReasmOverlaps") {
  reasm t;
  const packet data = pattern(48);
  auto frags = split(data, 16);
  CHECK_FALSE(t.feed(frags[0]));                                            // [0, 16)
  CHECK_FALSE(t.feed(fragment({.offset = 8}, bytes(data).subspan(8, 16))));  // [8, 24): overlaps
  CHECK(t.stats[drop::ipv4_reasm_overlaps] == 1);
  CHECK(t.stats.total_drops() == 1);
  CHECK(t.r.in_progress() == 0);
  // What is left starts a new datagram, which lacks its first 16 bytes.
  CHECK_FALSE(t.feed(frags[1]));
  CHECK_FALSE(t.feed(frags[2]));
  CHECK(t.r.in_progress() == 1);
  CHECK(t.stats[counter::ip_reasm_oks] == 0);
}

TEST_CASE("reassembly: fragment covering more than a held one -> overlap, datagram dropped") {
  reasm t;
  const packet data = pattern(48);
  CHECK_FALSE(t.feed(fragment({.offset = 16}, bytes(data).subspan(16, 8))));  // [16, 24)
  CHECK_FALSE(t.feed(fragment({.offset = 8}, bytes(data).subspan(8, 24))));   // [8, 32) covers it
  CHECK(t.stats[drop::ipv4_reasm_overlaps] == 1);
  CHECK(t.r.in_progress() == 0);
}

// ---------------------------------------------------------------- bad fragments

TEST_CASE("reassembly: zero-length fragment -> datagram dropped, IpReasmFails") {
  reasm t;
  const packet data = pattern(32);
  CHECK_FALSE(t.feed(fragment({}, bytes(data).first(16))));
  CHECK_FALSE(t.feed(fragment({.offset = 16}, bytes{})));
  CHECK(t.stats[drop::ipv4_reasm_fails] == 1);
  CHECK(t.r.in_progress() == 0);
  // Alone, it is dropped without taking a slot.
  CHECK_FALSE(t.feed(fragment({.offset = 8, .more = false}, bytes{})));
  CHECK(t.stats[drop::ipv4_reasm_fails] == 2);
  CHECK(t.r.in_progress() == 0);
  CHECK(t.stats[counter::ip_reasm_reqds] == 3);
}

TEST_CASE("reassembly: non-final fragment not a multiple of 8 -> datagram dropped, IpReasmFails") {
  reasm t;
  const packet data = pattern(40);
  CHECK_FALSE(t.feed(fragment({.offset = 24, .more = false}, bytes(data).subspan(24))));
  CHECK_FALSE(t.feed(fragment({}, bytes(data).first(12))));
  CHECK(t.stats[drop::ipv4_reasm_fails] == 1);
  CHECK(t.r.in_progress() == 0);
  // The last fragment may have any length.
  reasm u;
  CHECK_FALSE(u.feed(fragment({}, bytes(data).first(16))));
  auto whole = u.feed(fragment({.offset = 16, .more = false}, bytes(data).subspan(16, 13)));
  REQUIRE(whole);
  CHECK(whole->size() == 29);
}

TEST_CASE("reassembly: second last fragment with another end -> datagram dropped, IpReasmFails") {
  reasm t;
  const packet data = pattern(64);
  CHECK_FALSE(t.feed(fragment({.offset = 32, .more = false}, bytes(data).subspan(32, 16))));  // ends at 48
  CHECK_FALSE(t.feed(fragment({.offset = 48, .more = false}, bytes(data).subspan(48, 16))));  // ends at 64
  CHECK(t.stats[drop::ipv4_reasm_fails] == 1);
  CHECK(t.r.in_progress() == 0);
}

TEST_CASE("reassembly: data past the end the last fragment set -> datagram dropped, IpReasmFails") {
  SUBCASE("more data after the last fragment") {
    reasm t;
    const packet data = pattern(64);
    CHECK_FALSE(t.feed(fragment({.offset = 16, .more = false}, bytes(data).subspan(16, 8))));  // ends at 24
    CHECK_FALSE(t.feed(fragment({.offset = 24}, bytes(data).subspan(24, 8))));
    CHECK(t.stats[drop::ipv4_reasm_fails] == 1);
    CHECK(t.r.in_progress() == 0);
  }
  SUBCASE("a last fragment ending before data already held") {
    reasm t;
    const packet data = pattern(64);
    CHECK_FALSE(t.feed(fragment({.offset = 32}, bytes(data).subspan(32, 16))));  // held up to 48
    CHECK_FALSE(t.feed(fragment({.offset = 8, .more = false}, bytes(data).subspan(8, 8))));  // ends at 16
    CHECK(t.stats[drop::ipv4_reasm_fails] == 1);
    CHECK(t.r.in_progress() == 0);
  }
}

TEST_CASE("reassembly: past 65535 bytes -> IpReasmOversize; a datagram in progress is dropped") {
  reasm t;
  const packet eight = pattern(8);
  // Offset 8191 * 8 = 65528 is the largest the field holds: 20 + 65528 + 8 > 65535.
  CHECK_FALSE(t.feed(fragment({.offset = 65528, .more = false}, eight)));
  CHECK(t.stats[drop::ipv4_reasm_oversize] == 1);
  CHECK(t.r.in_progress() == 0);

  CHECK_FALSE(t.feed(fragment({.id = 2}, pattern(16))));
  CHECK(t.r.in_progress() == 1);
  CHECK_FALSE(t.feed(fragment({.id = 2, .offset = 65496}, pattern(24))));  // ends at 65520
  CHECK(t.stats[drop::ipv4_reasm_oversize] == 2);
  CHECK(t.r.in_progress() == 0);
  CHECK(t.stats.total_drops() == 2);
}

TEST_CASE("reassembly: more than max_ranges separate pieces -> datagram dropped, IpReasmFails") {
  reasm t;
  const packet eight = pattern(8);
  for (std::size_t i = 0; i < ipv4_reassembly::max_ranges; ++i) {
    CHECK_FALSE(t.feed(fragment({.offset = 16 * i + 8}, eight)));  // every other 8-byte block
  }
  CHECK(t.r.in_progress() == 1);
  CHECK(t.stats.total_drops() == 0);
  CHECK_FALSE(t.feed(fragment({.offset = 16 * ipv4_reassembly::max_ranges + 8}, eight)));
  CHECK(t.stats[drop::ipv4_reasm_fails] == 1);
  CHECK(t.r.in_progress() == 0);
}

TEST_CASE("reassembly: filling the holes between max_ranges pieces -> ranges merge, datagram completes") {
  reasm t;
  const std::size_t blocks = 2 * ipv4_reassembly::max_ranges;
  const packet data = pattern(8 * blocks);
  auto frags = split(data, 8);
  REQUIRE(frags.size() == blocks);
  for (std::size_t i = 1; i < blocks; i += 2) CHECK_FALSE(t.feed(frags[i]));  // the odd blocks, last included
  std::optional<packet> whole;
  for (std::size_t i = 0; i < blocks; i += 2) whole = t.feed(frags[i]);
  REQUIRE(whole);
  CHECK(*whole == data);
  CHECK(t.stats.total_drops() == 0);
}

// ---------------------------------------------------------------- time and space

TEST_CASE("reassembly: incomplete at ipfrag_time after the first fragment -> dropped, IpReasmTimeout") {
  settings s;
  s.ipfrag_time = settings::ms(30000);
  reasm t(s);
  const packet data = pattern(48);
  auto frags = split(data, 16);
  CHECK_FALSE(t.feed(frags[0], at(1s)));
  CHECK(t.r.next_deadline() == at(31s));
  CHECK_FALSE(t.feed(frags[2], at(20s)));
  CHECK(t.r.next_deadline() == at(31s));  // later fragments do not restart the timer
  t.r.on_timer(at(31s) - 1ns);
  CHECK(t.r.in_progress() == 1);
  t.r.on_timer(at(31s));
  CHECK(t.r.in_progress() == 0);
  CHECK(t.stats[drop::ipv4_reasm_timeout] == 1);
  CHECK(t.stats.total_drops() == 1);
  CHECK_FALSE(t.r.next_deadline());
  // The missing piece, late: a new datagram that will time out in its turn.
  CHECK_FALSE(t.feed(frags[1], at(32s)));
  CHECK(t.r.next_deadline() == at(62s));
}

TEST_CASE("reassembly: fragment after ipfrag_time, timer not yet fired -> old pieces not used") {
  settings s;
  s.ipfrag_time = settings::ms(5000);
  reasm t(s);
  const packet data = pattern(32);
  auto frags = split(data, 16);
  CHECK_FALSE(t.feed(frags[0], at(0s)));
  CHECK_FALSE(t.feed(frags[1], at(5s)));  // the first piece expired at 5 s
  CHECK(t.stats[drop::ipv4_reasm_timeout] == 1);
  CHECK(t.stats[counter::ip_reasm_oks] == 0);
  CHECK(t.r.in_progress() == 1);
}

TEST_CASE("reassembly: every slot taken -> a new datagram's fragment dropped, IpReasmFails; room again once one completes") {
  settings s;
  s.ipfrag_high_thresh = static_cast<int>(2 * ipv4_reassembly::bytes_per_slot() + 100);
  reasm t(s);
  REQUIRE(t.r.capacity() == 2);
  const packet data = pattern(32);
  auto a = split(data, 16, {.id = 1});
  auto b = split(data, 16, {.id = 2});
  auto c = split(data, 16, {.id = 3});
  CHECK_FALSE(t.feed(a[0]));
  CHECK_FALSE(t.feed(b[0]));
  CHECK_FALSE(t.feed(c[0]));
  CHECK(t.stats[drop::ipv4_reasm_fails] == 1);
  CHECK(t.r.in_progress() == 2);
  // Fragments of datagrams already held still go in.
  CHECK(t.feed(a[1]));
  CHECK(t.r.in_progress() == 1);
  CHECK_FALSE(t.feed(c[0]));
  CHECK(t.feed(c[1]));
  CHECK(t.feed(b[1]));
  CHECK(t.stats[counter::ip_reasm_oks] == 3);
  CHECK(t.stats.total_drops() == 1);
}

TEST_CASE("reassembly: default ipfrag_high_thresh -> 63 slots; below one slot -> every fragment dropped") {
  {
    reasm t;
    CHECK(t.r.capacity() == 4194304 / ipv4_reassembly::bytes_per_slot());
    CHECK(t.r.capacity() == 63);
  }
  settings s;
  s.ipfrag_high_thresh = 0;
  reasm t(s);
  CHECK(t.r.capacity() == 0);
  auto frags = split(pattern(32), 16);
  CHECK_FALSE(t.feed(frags[0]));
  CHECK_FALSE(t.feed(frags[1]));
  CHECK(t.stats[drop::ipv4_reasm_fails] == 2);
  CHECK(t.stats[counter::ip_reasm_reqds] == 2);
}

// ---------------------------------------------------------------- keys

TEST_CASE("reassembly: two datagrams interleaved -> each completes with its own bytes") {
  reasm t;
  const packet da = pattern(64, 1), db = pattern(64, 200);
  auto a = split(da, 16, {.id = 10});
  auto b = split(db, 16, {.id = 11});
  CHECK_FALSE(t.feed(a[0]));
  CHECK_FALSE(t.feed(b[3]));
  CHECK_FALSE(t.feed(a[2]));
  CHECK_FALSE(t.feed(b[1]));
  CHECK_FALSE(t.feed(a[3]));
  CHECK_FALSE(t.feed(b[0]));
  CHECK(t.r.in_progress() == 2);
  auto wa = t.feed(a[1]);
  REQUIRE(wa);
  CHECK(*wa == da);
  CHECK(t.last.id == 10);
  auto wb = t.feed(b[2]);
  REQUIRE(wb);
  CHECK(*wb == db);
  CHECK(t.last.id == 11);
  CHECK(t.stats[counter::ip_reasm_oks] == 2);
  CHECK(t.stats.total_drops() == 0);
}

TEST_CASE("reassembly: same id from another source or protocol -> a different datagram") {
  reasm t;
  const packet data = pattern(32);
  CHECK_FALSE(t.feed(fragment({.id = 4}, bytes(data).first(16))));
  CHECK_FALSE(t.feed(fragment({.id = 4, .offset = 16, .more = false, .src = make_ipv4(198, 18, 0, 9)},
                              bytes(data).subspan(16))));
  CHECK_FALSE(t.feed(fragment({.id = 4, .offset = 16, .more = false, .proto = 6}, bytes(data).subspan(16))));
  CHECK(t.r.in_progress() == 3);
  auto whole = t.feed(fragment({.id = 4, .offset = 16, .more = false}, bytes(data).subspan(16)));
  REQUIRE(whole);
  CHECK(*whole == data);
  CHECK(t.r.in_progress() == 2);
}

TEST_CASE("reassembly: id reused after the datagram completed -> reassembled afresh, new bytes") {
  reasm t;
  const packet first = pattern(32, 1), second = pattern(32, 99);
  auto a = split(first, 16, {.id = 5});
  auto b = split(second, 16, {.id = 5});
  CHECK_FALSE(t.feed(a[0]));
  REQUIRE(t.feed(a[1]));
  CHECK_FALSE(t.feed(b[1]));  // not a duplicate of the finished one: a new datagram
  CHECK(t.r.in_progress() == 1);
  auto whole = t.feed(b[0]);
  REQUIRE(whole);
  CHECK(*whole == second);
  CHECK(t.stats[counter::ip_reasm_oks] == 2);
  CHECK(t.stats.total_drops() == 0);
}

TEST_CASE("reassembly: a slot's buffer is reused -> datagram after datagram in one slot") {
  settings s;
  s.ipfrag_high_thresh = static_cast<int>(ipv4_reassembly::bytes_per_slot());
  reasm t(s);
  REQUIRE(t.r.capacity() == 1);
  for (std::uint16_t id = 0; id < 20; ++id) {
    const packet data = pattern(100 + id, static_cast<std::uint8_t>(id));
    auto frags = split(data, 40, {.id = id});
    std::reverse(frags.begin(), frags.end());
    std::optional<packet> whole;
    for (const auto& f : frags) whole = t.feed(f, at(std::chrono::seconds(id)));
    REQUIRE(whole);
    CHECK(*whole == data);
  }
  CHECK(t.stats[counter::ip_reasm_oks] == 20);
  CHECK(t.stats.total_drops() == 0);
}
