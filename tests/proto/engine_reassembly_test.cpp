// The engine with IPv4 reassembly plugged in: datagrams cut into fragments
// by hand reach ICMP echo and TCP as one datagram; drops and timeouts are
// counted. Frames are built and read back as in engine_test.cpp.
#include <doctest/doctest.h>

#include <vector>

#include "proto/engine.hpp"
#include "proto/wire/arp.hpp"
#include "proto/wire/checksum.hpp"
#include "proto/wire/ethernet.hpp"
#include "proto/wire/icmp.hpp"
#include "proto/wire/ipv4.hpp"
#include "proto/wire/tcp.hpp"
#include "tests/proto/engine_test_util.hpp"

using namespace coronet;
using namespace std::chrono_literals;
using namespace coronet::test;

namespace {


// Ethernet + IPv4 (DF clear, as fragmentable datagrams are) around an L4 payload.
frame ip_frame(std::uint8_t proto, bytes l4, ipv4_addr dst = our_ip, std::uint16_t id = 0x1234) {
  frame f(14 + 20 + l4.size());
  wire::emit(wire::ethernet_header{our_mac, peer_mac, 0x0800}, f);
  wire::ipv4_header h;
  h.src = peer_ip;
  h.dst = dst;
  h.proto = proto;
  h.id = id;
  h.dont_fragment = false;
  h.payload_len = static_cast<std::uint16_t>(l4.size());
  REQUIRE(wire::emit(h, mut_bytes(f).subspan(14)) == 20);
  std::copy(l4.begin(), l4.end(), f.begin() + 34);
  return f;
}

// Cuts the IPv4 payload of `whole` (Ethernet + 20-byte IPv4 header) into
// fragments of the given sizes (multiples of 8), the remainder last (MF=0),
// as a router would (RFC 791 3.2, "fragmentation procedure").
std::vector<frame> fragments_of(const frame& whole, std::vector<std::size_t> sizes) {
  const std::size_t hdr = 14 + 20;
  REQUIRE(whole.size() > hdr);
  const std::size_t total = whole.size() - hdr;
  std::size_t used = 0;
  for (std::size_t n : sizes) used += n;
  REQUIRE(used < total);
  sizes.push_back(total - used);
  std::vector<frame> out;
  std::size_t off = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const bool more = i + 1 < sizes.size();
    REQUIRE((!more || sizes[i] % 8 == 0));
    frame f(whole.begin(), whole.begin() + hdr);
    f.insert(f.end(), whole.begin() + static_cast<std::ptrdiff_t>(hdr + off),
             whole.begin() + static_cast<std::ptrdiff_t>(hdr + off + sizes[i]));
    std::uint8_t* ip = f.data() + 14;
    store_be16(ip + 2, static_cast<std::uint16_t>(20 + sizes[i]));
    store_be16(ip + 6, static_cast<std::uint16_t>((more ? 0x2000 : 0) | (off / 8)));
    store_be16(ip + 10, 0);
    store_be16(ip + 10, wire::internet_checksum(bytes(ip, 20)));
    out.push_back(std::move(f));
    off += sizes[i];
  }
  return out;
}

frame ping_frame(std::uint16_t seq, const frame& data) {
  frame icmp(8 + data.size());
  wire::emit(wire::icmp_echo{wire::icmp_type::echo_request, 0x4242, seq, bytes(data)}, icmp);
  return ip_frame(1, icmp);
}

frame tcp_frame(const wire::tcp_header& t, bytes payload = {}) {
  frame seg(wire::tcp_header_len(t) + payload.size());
  REQUIRE(wire::emit(t, payload, peer_ip, our_ip, seg) == seg.size());
  return ip_frame(6, seg);
}

frame data_pattern(std::size_t n, std::uint8_t seed = 5) {
  frame d(n);
  for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<std::uint8_t>(i * 13 + seed);
  return d;
}



std::optional<wire::tcp_header> as_tcp(const frame& f) {
  auto eth = wire::ethernet_view::parse(f);
  if (!eth || eth->header().type != 0x0800) return std::nullopt;
  auto ip = wire::ipv4_view::parse(eth->payload());
  if (!ip || ip->header().proto != 6) return std::nullopt;
  auto seg = wire::tcp_view::parse(ip->payload(), ip->header().src, ip->header().dst);
  if (!seg) return std::nullopt;
  return seg->header();
}

// An engine that already knows the peer's MAC (it answered the peer's ARP).
struct known_peer {
  engine e;
  explicit known_peer(const settings& s = {}) : e(s, our_iface(), 1) {
    frame req(14 + wire::arp_packet_len);
    wire::emit(wire::ethernet_header{mac_addr::broadcast(), peer_mac, 0x0806}, req);
    wire::emit(wire::arp_packet{wire::arp_op::request, peer_mac, peer_ip, mac_addr{}, our_ip},
               mut_bytes(req).subspan(14));
    e.on_frame(req, at(0s));
    drain(e);
  }
  void feed(const std::vector<frame>& frags, time_point now, rx_meta meta = {}) {
    for (const auto& f : frags) e.on_frame(f, now, meta);
  }
};

constexpr std::uint32_t peer_isn = 1000;

wire::tcp_header from_peer(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack = 0) {
  wire::tcp_header t;
  t.src_port = 40000;
  t.dst_port = 80;
  t.seq = seq;
  t.ack = ack;
  t.flags = flags;
  t.window = 65535;
  return t;
}

// Passive open on port 80 completed by hand; returns the connection and the
// server's ISS.
std::pair<conn_id, std::uint32_t> establish(known_peer& k) {
  auto l = k.e.listen(80, 16);
  REQUIRE(l);
  wire::tcp_header syn = from_peer(wire::tcp_flag::syn, peer_isn);
  syn.options.mss = 1460;
  k.e.on_frame(tcp_frame(syn), at(1s));
  auto out = drain(k.e);
  REQUIRE(out.size() == 1);
  auto synack = as_tcp(out[0]);
  REQUIRE(synack);
  REQUIRE(synack->flags == (wire::tcp_flag::syn | wire::tcp_flag::ack));
  k.e.on_frame(tcp_frame(from_peer(wire::tcp_flag::ack, peer_isn + 1, synack->seq + 1)), at(1s));
  auto c = k.e.accept(*l);
  REQUIRE(c);
  return {*c, synack->seq};
}

}  // namespace

// ---------------------------------------------------------------- ICMP

TEST_CASE("reassembly: echo request in 3 fragments -> one echo reply with all the data") {
  known_peer k;
  const frame data = data_pattern(40);
  auto frags = fragments_of(ping_frame(7, data), {16, 16});  // 48 bytes of ICMP: 16 + 16 + 16
  REQUIRE(frags.size() == 3);
  k.feed(frags, at(1s));
  auto out = drain(k.e);
  REQUIRE(out.size() == 1);
  auto echo = as_echo(out[0]);
  REQUIRE(echo);
  CHECK(echo->type == wire::icmp_type::echo_reply);
  CHECK(echo->ip.dst == peer_ip);
  CHECK(echo->id == 0x4242);
  CHECK(echo->seq == 7);
  CHECK(echo->data == data);
  const counters& st = k.e.stats();
  CHECK(st[counter::ip_in_receives] == 3);
  CHECK(st[counter::ip_reasm_reqds] == 3);
  CHECK(st[counter::ip_reasm_oks] == 1);
  CHECK(st[counter::ip_in_delivers] == 1);
  CHECK(st[counter::icmp_in_echos] == 1);
  CHECK(st[counter::icmp_out_echo_reps] == 1);
  CHECK(st.total_drops() == 0);
  CHECK_FALSE(k.e.next_deadline());
}

TEST_CASE("reassembly: 1200-byte echo request in 3 fragments out of order -> reply carries it all") {
  known_peer k;
  const frame data = data_pattern(1200);
  auto frags = fragments_of(ping_frame(8, data), {400, 400});
  REQUIRE(frags.size() == 3);
  k.feed({frags[2], frags[0]}, at(1s));
  CHECK(drain(k.e).empty());
  CHECK(k.e.next_deadline() == at(31s));  // ipfrag_time after the first fragment
  k.feed({frags[1]}, at(2s));
  auto out = drain(k.e);
  REQUIRE(out.size() == 1);
  auto echo = as_echo(out[0]);
  REQUIRE(echo);
  CHECK(echo->seq == 8);
  CHECK(echo->data == data);
  CHECK(k.e.stats()[counter::ip_reasm_oks] == 1);
  CHECK(k.e.stats().total_drops() == 0);
}

// ---------------------------------------------------------------- TCP

TEST_CASE("reassembly: SYN in 2 fragments to a listening port -> SYN-ACK") {
  known_peer k;
  auto l = k.e.listen(80, 16);
  REQUIRE(l);
  wire::tcp_header syn = from_peer(wire::tcp_flag::syn, peer_isn);
  syn.options.mss = 1460;
  syn.options.window_scale = 7;
  syn.options.sack_permitted = true;
  syn.options.timestamps = wire::tcp_timestamps{12345, 0};
  frame whole = tcp_frame(syn);
  REQUIRE(whole.size() == 14 + 20 + 40);  // 20-byte header + 20 bytes of options
  auto frags = fragments_of(whole, {24});
  REQUIRE(frags.size() == 2);
  k.feed({frags[1], frags[0]}, at(1s));
  auto out = drain(k.e);
  REQUIRE(out.size() == 1);
  auto synack = as_tcp(out[0]);
  REQUIRE(synack);
  CHECK(synack->flags == (wire::tcp_flag::syn | wire::tcp_flag::ack));
  CHECK(synack->ack == peer_isn + 1);
  CHECK(synack->options.timestamps);  // the options in the second fragment were seen
  CHECK(synack->options.window_scale);
  CHECK(k.e.stats()[counter::ip_reasm_reqds] == 2);
  CHECK(k.e.stats()[counter::ip_reasm_oks] == 1);
  CHECK(k.e.stats()[counter::tcp_in_segs] == 1);
  CHECK(k.e.stats().total_drops() == 0);
}

TEST_CASE("reassembly: 1000 bytes of data in 2 fragments on an established connection -> delivered") {
  known_peer k;
  auto [c, iss] = establish(k);
  const frame data = data_pattern(1000);
  frame whole = tcp_frame(from_peer(wire::tcp_flag::ack | wire::tcp_flag::psh, peer_isn + 1, iss + 1), data);
  auto frags = fragments_of(whole, {512});  // 20 + 1000 bytes: 512 + 508
  REQUIRE(frags.size() == 2);
  k.feed({frags[1], frags[0]}, at(2s));
  frame got(2000);
  std::size_t n = k.e.recv(c, got, at(2s));
  REQUIRE(n == 1000);
  got.resize(n);
  CHECK(got == data);
  CHECK(k.e.info(c)->bytes_received == 1000);
  CHECK(k.e.stats()[counter::ip_reasm_oks] == 1);
  CHECK(k.e.stats().total_drops() == 0);
}

TEST_CASE("reassembly: a byte changed in the second fragment -> TCP checksum over the whole segment fails") {
  // csum_not_ready on a fragment does not skip the check: a sender fills the
  // full checksum before it fragments (Linux ip_do_fragment()).
  for (bool not_ready : {false, true}) {
    CAPTURE(not_ready);
    known_peer k;
    auto [c, iss] = establish(k);
    const frame data = data_pattern(1000);
    frame whole = tcp_frame(from_peer(wire::tcp_flag::ack, peer_isn + 1, iss + 1), data);
    auto frags = fragments_of(whole, {512});
    frags[1].back() ^= 0x40;
    k.feed(frags, at(2s), rx_meta{.csum_not_ready = not_ready});
    CHECK(k.e.stats()[counter::ip_reasm_oks] == 1);
    CHECK(k.e.stats()[drop::tcp_bad_checksum] == 1);
    CHECK(k.e.stats()[counter::tcp_in_errs] == 1);
    frame got(2000);
    CHECK(k.e.recv(c, got, at(2s)) == 0);
  }
}

// ---------------------------------------------------------------- drops and time

TEST_CASE("reassembly: fragment never completed -> dropped at ipfrag_time, IpReasmTimeout, nothing sent") {
  settings s;
  s.ipfrag_time = settings::ms(5000);
  known_peer k(s);
  auto frags = fragments_of(ping_frame(1, data_pattern(40)), {16, 16});
  k.feed({frags[0], frags[2]}, at(1s));
  CHECK(k.e.next_deadline() == at(6s));
  k.e.on_timer(at(5s));
  CHECK(k.e.stats()[drop::ipv4_reasm_timeout] == 0);
  k.e.on_timer(at(6s));
  CHECK(k.e.stats()[drop::ipv4_reasm_timeout] == 1);
  CHECK(k.e.stats().total_drops() == 1);
  CHECK(drain(k.e, at(6s)).empty());  // coronet sends no ICMP time exceeded
  CHECK_FALSE(k.e.next_deadline());
  // The missing middle, too late: held as a new datagram, no reply.
  k.feed({frags[1]}, at(7s));
  CHECK(drain(k.e, at(7s)).empty());
  CHECK(k.e.stats()[counter::icmp_in_echos] == 0);
}

TEST_CASE("reassembly: overlapping fragment -> datagram dropped, IpExtReasmOverlaps, next ping answered") {
  known_peer k;
  const frame data = data_pattern(40);
  frame whole = ping_frame(1, data);
  auto frags = fragments_of(whole, {16, 16});
  auto wide = fragments_of(whole, {8, 24});  // wide[1] covers [8, 32): cuts into frags[0]
  k.feed({frags[0], wide[1]}, at(1s));
  CHECK(k.e.stats()[drop::ipv4_reasm_overlaps] == 1);
  CHECK(k.e.stats().total_drops() == 1);
  CHECK(drain(k.e).empty());
  auto again = fragments_of(ping_frame(2, data), {16, 16});
  for (auto& f : again) {  // a new id, as a sender's next datagram has
    store_be16(f.data() + 14 + 4, 0x4321);
    store_be16(f.data() + 14 + 10, 0);
    store_be16(f.data() + 14 + 10, wire::internet_checksum(bytes(f).subspan(14, 20)));
  }
  k.feed(again, at(2s));
  auto out = drain(k.e);
  REQUIRE(out.size() == 1);
  CHECK(as_echo(out[0])->seq == 2);
}

TEST_CASE("reassembly: fragments not for our address or with a bad header checksum -> never held") {
  known_peer k;
  auto other = fragments_of(ping_frame(1, data_pattern(40)), {16});
  for (auto& f : other) {
    store_be32(f.data() + 14 + 16, make_ipv4(198, 18, 0, 3).value);
    store_be16(f.data() + 14 + 10, 0);
    store_be16(f.data() + 14 + 10, wire::internet_checksum(bytes(f).subspan(14, 20)));
  }
  k.feed(other, at(1s));
  CHECK(k.e.stats()[drop::ipv4_not_for_us] == 2);
  auto bad = fragments_of(ping_frame(1, data_pattern(40)), {16});
  bad[0][14 + 8] ^= 1;  // TTL changed, checksum not
  k.feed({bad[0]}, at(1s));
  CHECK(k.e.stats()[drop::ipv4_bad_checksum] == 1);
  CHECK(k.e.stats()[counter::ip_reasm_reqds] == 0);
  CHECK_FALSE(k.e.next_deadline());
}
