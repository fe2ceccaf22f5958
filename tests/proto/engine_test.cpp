// The engine shell: Ethernet, ARP, IPv4 and ICMP echo, routing, the TX ring.
// Frames are built by hand and fed to one engine; what it emits is parsed
// back with the wire views.
#include "proto/engine.hpp"

#include <doctest/doctest.h>

#include <vector>

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

const mac_addr gw_mac{{0x02, 0, 0, 0, 0, 0xfe}};
const ipv4_addr gw_ip = make_ipv4(198, 18, 0, 254);
const ipv4_addr far_ip = make_ipv4(198, 19, 7, 7);  // off the /24


frame arp_frame(wire::arp_op op, mac_addr eth_dst, mac_addr sha, ipv4_addr spa, mac_addr tha, ipv4_addr tpa) {
  frame f(14 + wire::arp_packet_len);
  wire::emit(wire::ethernet_header{eth_dst, sha, 0x0806}, f);
  wire::emit(wire::arp_packet{op, sha, spa, tha, tpa}, mut_bytes(f).subspan(14));
  return f;
}
frame arp_request_for(ipv4_addr target, mac_addr sha = peer_mac, ipv4_addr spa = peer_ip) {
  return arp_frame(wire::arp_op::request, mac_addr::broadcast(), sha, spa, mac_addr{}, target);
}
frame arp_reply_from(mac_addr sha, ipv4_addr spa) {
  return arp_frame(wire::arp_op::reply, our_mac, sha, spa, our_mac, our_ip);
}

// Ethernet + IPv4 around an already built L4 payload.
frame ip_frame(mac_addr eth_src, ipv4_addr src, ipv4_addr dst, std::uint8_t proto, bytes l4,
               mac_addr eth_dst = our_mac) {
  frame f(14 + 20 + l4.size());
  wire::emit(wire::ethernet_header{eth_dst, eth_src, 0x0800}, f);
  wire::ipv4_header h;
  h.src = src;
  h.dst = dst;
  h.proto = proto;
  h.id = 77;
  h.payload_len = static_cast<std::uint16_t>(l4.size());
  wire::emit(h, mut_bytes(f).subspan(14));
  std::copy(l4.begin(), l4.end(), f.begin() + 34);
  return f;
}

frame ping_frame(std::uint16_t seq, ipv4_addr src = peer_ip, mac_addr eth_src = peer_mac,
                 ipv4_addr dst = our_ip) {
  const std::uint8_t data[] = {'p', 'i', 'n', 'g', 0, 1, 2, 3};
  frame icmp(8 + sizeof data);
  wire::emit(wire::icmp_echo{wire::icmp_type::echo_request, 0x4242, seq, bytes(data)}, icmp);
  return ip_frame(eth_src, src, dst, 1, icmp);
}

// A TCP segment from the peer to our port 80, `payload_len` bytes of data.
frame tcp_frame(std::size_t payload_len = 0, std::uint8_t flags = wire::tcp_flag::syn) {
  wire::tcp_header t;
  t.src_port = 40000;
  t.dst_port = 80;
  t.seq = 1;
  t.flags = flags;
  t.window = 1000;
  frame payload(payload_len, 0xab);
  frame seg(20 + payload_len);
  REQUIRE(wire::emit(t, payload, peer_ip, our_ip, seg) == seg.size());
  return ip_frame(peer_mac, peer_ip, our_ip, 6, seg);
}

// Every frame the engine has queued.

std::optional<wire::arp_packet> as_arp(const frame& f) {
  auto eth = wire::ethernet_view::parse(f);
  if (!eth || eth->header().type != 0x0806) return std::nullopt;
  auto a = wire::parse_arp(eth->payload());
  if (!a) return std::nullopt;
  return *a;
}


// An engine that already knows the peer's MAC (it answered the peer's ARP).
struct known_peer {
  engine e;
  explicit known_peer(const settings& s = {}, std::optional<ipv4_addr> gw = {}) : e(s, our_iface(gw), 1) {
    e.on_frame(arp_request_for(our_ip), at(0s));
    drain(e);
  }
};

}  // namespace

// ---------------------------------------------------------------- ARP

TEST_CASE("ARP: request for our address -> reply with our MAC, sender learned") {
  engine e({}, our_iface(), 1);
  e.on_frame(arp_request_for(our_ip), at(0s));
  auto out = drain(e);
  REQUIRE(out.size() == 1);
  auto eth = wire::ethernet_view::parse(out[0])->header();
  CHECK(eth.dst == peer_mac);
  CHECK(eth.src == our_mac);
  auto a = as_arp(out[0]);
  REQUIRE(a);
  CHECK(a->op == wire::arp_op::reply);
  CHECK(a->sha == our_mac);
  CHECK(a->spa == our_ip);
  CHECK(a->tha == peer_mac);
  CHECK(a->tpa == peer_ip);
  CHECK(e.stats()[counter::arp_in_requests] == 1);
  CHECK(e.stats()[counter::arp_out_replies] == 1);

  // Learned: a ping from the peer is answered straight away, no ARP request.
  e.on_frame(ping_frame(1), at(1s));
  out = drain(e);
  REQUIRE(out.size() == 1);
  CHECK(as_echo(out[0]));
  CHECK(e.stats()[counter::arp_out_requests] == 0);
}

TEST_CASE("ARP: request for another address -> ignored, counted, sender not learned") {
  engine e({}, our_iface(), 1);
  e.on_frame(arp_request_for(make_ipv4(198, 18, 0, 99)), at(0s));
  CHECK(drain(e).empty());
  CHECK(e.stats()[drop::arp_not_for_us] == 1);
  CHECK(e.stats()[counter::arp_out_replies] == 0);

  e.on_frame(ping_frame(1), at(1s));  // the reply has to ask for the peer's MAC first
  auto out = drain(e);
  REQUIRE(out.size() == 1);
  auto a = as_arp(out[0]);
  REQUIRE(a);
  CHECK(a->op == wire::arp_op::request);
  CHECK(a->tpa == peer_ip);
}

TEST_CASE("ARP: reply addressed to us -> sender learned") {
  engine e({}, our_iface(), 1);
  e.on_frame(arp_reply_from(peer_mac, peer_ip), at(0s));
  CHECK(drain(e).empty());
  CHECK(e.stats()[counter::arp_in_replies] == 1);
  e.on_frame(ping_frame(1), at(1s));
  auto out = drain(e);
  REQUIRE(out.size() == 1);
  auto echo = as_echo(out[0]);
  REQUIRE(echo);
  CHECK(echo->eth.dst == peer_mac);
}

TEST_CASE("ARP: unknown neighbour -> one request, queued frames sent in order after the reply") {
  engine e({}, our_iface(), 1);
  for (std::uint16_t seq = 1; seq <= 3; ++seq) e.on_frame(ping_frame(seq), at(0s));
  auto out = drain(e);
  REQUIRE(out.size() == 1);  // the request; the three echo replies wait
  auto a = as_arp(out[0]);
  REQUIRE(a);
  CHECK(a->op == wire::arp_op::request);
  CHECK(wire::ethernet_view::parse(out[0])->header().dst == mac_addr::broadcast());
  CHECK(a->sha == our_mac);
  CHECK(a->spa == our_ip);
  CHECK(a->tpa == peer_ip);
  CHECK(e.stats()[counter::arp_out_requests] == 1);

  e.on_frame(arp_reply_from(peer_mac, peer_ip), at(10ms));
  out = drain(e);
  REQUIRE(out.size() == 3);
  for (std::uint16_t i = 0; i < 3; ++i) {
    auto echo = as_echo(out[i]);
    REQUIRE(echo);
    CHECK(echo->seq == i + 1);
    CHECK(echo->eth.dst == peer_mac);
  }
  CHECK_FALSE(e.next_deadline());
}

TEST_CASE("ARP: no answer -> request every neigh_retrans_time, queued frames dropped after mcast_solicit") {
  settings s;
  s.neigh_retrans_time = settings::ms(500);
  s.neigh_mcast_solicit = 3;
  engine e(s, our_iface(), 1);
  e.on_frame(ping_frame(1), at(0s));
  e.on_frame(ping_frame(2), at(0s));
  CHECK(drain(e).size() == 1);
  CHECK(e.next_deadline() == at(500ms));

  e.on_timer(at(500ms));
  CHECK(drain(e).size() == 1);
  CHECK(e.next_deadline() == at(1000ms));
  e.on_timer(at(1000ms));
  CHECK(drain(e).size() == 1);
  CHECK(e.stats()[counter::arp_out_requests] == 3);
  CHECK(e.stats()[drop::neighbor_unresolved] == 0);

  e.on_timer(at(1500ms));
  CHECK(drain(e).empty());
  CHECK(e.stats()[counter::arp_out_requests] == 3);
  CHECK(e.stats()[drop::neighbor_unresolved] == 2);
  CHECK_FALSE(e.next_deadline());
}

TEST_CASE("ARP: unresolved neighbour holding unres_qlen frames -> more are dropped") {
  settings s;
  s.neigh_unres_qlen = 2;
  engine e(s, our_iface(), 1);
  for (std::uint16_t seq = 1; seq <= 4; ++seq) e.on_frame(ping_frame(seq), at(0s));
  CHECK(e.stats()[drop::neighbor_queue_full] == 2);
  drain(e);
  e.on_frame(arp_reply_from(peer_mac, peer_ip), at(1ms));
  auto out = drain(e);
  REQUIRE(out.size() == 2);
  CHECK(as_echo(out[0])->seq == 1);
  CHECK(as_echo(out[1])->seq == 2);
}

TEST_CASE("ARP: reachable entry past base_reachable_time -> old MAC kept, one re-probe") {
  settings s;
  s.neigh_base_reachable_time = settings::ms(30000);
  known_peer k(s);
  k.e.on_frame(ping_frame(1), at(31s));
  auto out = drain(k.e);
  REQUIRE(out.size() == 2);
  auto a = as_arp(out[0]);
  REQUIRE(a);
  CHECK(a->tpa == peer_ip);
  auto echo = as_echo(out[1]);
  REQUIRE(echo);
  CHECK(echo->eth.dst == peer_mac);
  k.e.on_frame(ping_frame(2), at(31s));
  CHECK(drain(k.e).size() == 1);  // no second request while probing
}

TEST_CASE("ARP: too short or not Ethernet/IPv4 -> counted under its reason") {
  engine e({}, our_iface(), 1);
  frame f = arp_request_for(our_ip);
  frame shorter(f.begin(), f.begin() + 14 + 20);
  e.on_frame(shorter, at(0s));
  CHECK(e.stats()[drop::arp_too_short] == 1);
  f[14 + 1] = 0x86;  // ptype != IPv4
  e.on_frame(f, at(0s));
  CHECK(e.stats()[drop::arp_unsupported] == 1);
  CHECK(drain(e).empty());
}

// ---------------------------------------------------------------- ICMP

TEST_CASE("ICMP: echo request -> echo reply with the same id, seq and data") {
  known_peer k;
  k.e.on_frame(ping_frame(9), at(1s));
  auto out = drain(k.e);
  REQUIRE(out.size() == 1);
  auto echo = as_echo(out[0]);
  REQUIRE(echo);
  CHECK(echo->eth.dst == peer_mac);
  CHECK(echo->eth.src == our_mac);
  CHECK(echo->ip.src == our_ip);
  CHECK(echo->ip.dst == peer_ip);
  CHECK(echo->ip.ttl == 64);
  CHECK(echo->type == wire::icmp_type::echo_reply);
  CHECK(echo->id == 0x4242);
  CHECK(echo->seq == 9);
  CHECK(echo->data == frame{'p', 'i', 'n', 'g', 0, 1, 2, 3});
  // The reply's ICMP part is the request's with only the type and checksum changed.
  frame req = ping_frame(9);
  frame reply_icmp(out[0].begin() + 34, out[0].begin() + 34 + 16);
  frame req_icmp(req.begin() + 34, req.end());
  CHECK(reply_icmp[0] == 0);
  CHECK(req_icmp[0] == 8);
  CHECK(frame(reply_icmp.begin() + 4, reply_icmp.end()) == frame(req_icmp.begin() + 4, req_icmp.end()));
  CHECK(wire::internet_checksum(reply_icmp) == 0);
  CHECK(k.e.stats()[counter::icmp_in_echos] == 1);
  CHECK(k.e.stats()[counter::icmp_out_echo_reps] == 1);
  CHECK(k.e.stats()[counter::ip_in_receives] == 1);
  CHECK(k.e.stats()[counter::ip_out_requests] == 1);
}

TEST_CASE("ICMP: echo request larger than the MTU -> no reply, counted, next ping answered") {
  known_peer k;
  frame data(2000, 0x5a);
  frame icmp(8 + data.size());
  wire::emit(wire::icmp_echo{wire::icmp_type::echo_request, 0x4242, 1, bytes(data)}, icmp);
  k.e.on_frame(ip_frame(peer_mac, peer_ip, our_ip, 1, icmp), at(1s));
  CHECK(drain(k.e).empty());
  CHECK(k.e.stats()[counter::icmp_in_echos] == 1);
  CHECK(k.e.stats()[drop::icmp_echo_too_big] == 1);
  k.e.on_frame(ping_frame(2), at(1s));
  CHECK(drain(k.e).size() == 1);
}

TEST_CASE("ICMP: echo request from off the subnet, no gateway -> no reply, counted IpOutNoRoutes") {
  known_peer k;
  k.e.on_frame(ping_frame(1, make_ipv4(198, 19, 7, 7)), at(1s));
  CHECK(drain(k.e).empty());
  CHECK(k.e.stats()[drop::ip_out_no_routes] == 1);
}

TEST_CASE("ICMP: ip_default_ttl -> reply carries it, IP ids advance") {
  settings s;
  s.ip_default_ttl = 17;
  known_peer k(s);
  k.e.on_frame(ping_frame(1), at(1s));
  k.e.on_frame(ping_frame(2), at(1s));
  auto out = drain(k.e);
  REQUIRE(out.size() == 2);
  CHECK(as_echo(out[0])->ip.ttl == 17);
  CHECK(as_echo(out[1])->ip.id != as_echo(out[0])->ip.id);
}

// ---------------------------------------------------------------- routing

TEST_CASE("routing: off-subnet destination -> sent to the gateway's MAC") {
  engine e({}, our_iface(gw_ip), 1);
  e.on_frame(ping_frame(1, far_ip, gw_mac), at(0s));
  auto out = drain(e);
  REQUIRE(out.size() == 1);
  auto a = as_arp(out[0]);
  REQUIRE(a);
  CHECK(a->tpa == gw_ip);  // resolves the gateway, not the far host

  e.on_frame(arp_reply_from(gw_mac, gw_ip), at(1ms));
  out = drain(e);
  REQUIRE(out.size() == 1);
  auto echo = as_echo(out[0]);
  REQUIRE(echo);
  CHECK(echo->eth.dst == gw_mac);
  CHECK(echo->ip.dst == far_ip);
}

TEST_CASE("routing: off-subnet destination without a gateway -> connect says network_unreachable") {
  engine e({}, our_iface(), 1);
  auto c = e.connect(endpoint{far_ip, 80}, at(0s));
  REQUIRE_FALSE(c);
  CHECK(c.error() == std::errc::network_unreachable);
  CHECK(drain(e).empty());
}

TEST_CASE("routing: off-subnet destination with a gateway -> connect resolves the gateway") {
  engine e({}, our_iface(gw_ip), 1);
  auto c = e.connect(endpoint{far_ip, 80}, at(0s));
  REQUIRE(c);
  auto out = drain(e);
  REQUIRE(out.size() == 1);
  auto a = as_arp(out[0]);
  REQUIRE(a);
  CHECK(a->tpa == gw_ip);
}

// ---------------------------------------------------------------- drops

TEST_CASE("receive: frames for other hosts -> dropped and counted once") {
  known_peer k;
  k.e.on_frame(ip_frame(peer_mac, peer_ip, our_ip, 1, frame(16), mac_addr{{0x02, 0, 0, 0, 0, 0x55}}), at(1s));
  CHECK(k.e.stats()[drop::eth_not_for_us] == 1);
  k.e.on_frame(ping_frame(1, peer_ip, peer_mac, make_ipv4(198, 18, 0, 3)), at(1s));
  CHECK(k.e.stats()[drop::ipv4_not_for_us] == 1);
  CHECK(k.e.stats().total_drops() == 2);
  CHECK(drain(k.e).empty());
}

TEST_CASE("receive: unknown ethertype, unknown protocol, fragment -> dropped under their reasons") {
  known_peer k;
  frame v6 = ping_frame(1);
  v6[12] = 0x86;
  v6[13] = 0xdd;
  k.e.on_frame(v6, at(1s));
  CHECK(k.e.stats()[drop::eth_unknown_type] == 1);

  k.e.on_frame(ip_frame(peer_mac, peer_ip, our_ip, 17, frame(8)), at(1s));
  CHECK(k.e.stats()[drop::ipv4_unknown_proto] == 1);

  frame frag = ping_frame(1);
  frag[14 + 6] = 0x20;  // more fragments
  frag[14 + 10] = frag[14 + 11] = 0;
  auto sum = wire::internet_checksum(bytes(frag).subspan(14, 20));
  store_be16(&frag[14 + 10], sum);
  k.e.on_frame(frag, at(1s));  // held for reassembly until ipfrag_time runs out
  CHECK(k.e.stats()[counter::ip_reasm_reqds] == 1);
  k.e.on_timer(at(31s));
  CHECK(k.e.stats()[drop::ipv4_reasm_timeout] == 1);
  CHECK(k.e.stats().total_drops() == 3);
  CHECK(drain(k.e).empty());
}

TEST_CASE("receive: malformed frames -> counted under their reasons, the next ping still answered") {
  known_peer k;
  k.e.on_frame(frame(10, 0xff), at(1s));
  CHECK(k.e.stats()[drop::eth_too_short] == 1);

  frame ip_short = ping_frame(1);
  ip_short.resize(14 + 12);
  k.e.on_frame(ip_short, at(1s));
  CHECK(k.e.stats()[drop::ipv4_too_short] == 1);

  frame bad_ip_sum = ping_frame(1);
  bad_ip_sum[14 + 8] ^= 0x01;  // TTL changed, checksum not
  k.e.on_frame(bad_ip_sum, at(1s));
  CHECK(k.e.stats()[drop::ipv4_bad_checksum] == 1);

  frame bad_icmp_sum = ping_frame(1);
  bad_icmp_sum.back() ^= 0xff;
  k.e.on_frame(bad_icmp_sum, at(1s));
  CHECK(k.e.stats()[drop::icmp_bad_checksum] == 1);

  frame tcp_short = ip_frame(peer_mac, peer_ip, our_ip, 6, frame(12));
  k.e.on_frame(tcp_short, at(1s));
  CHECK(k.e.stats()[drop::tcp_too_short] == 1);

  frame bad_tcp_sum = tcp_frame();
  bad_tcp_sum.back() ^= 0x5a;
  k.e.on_frame(bad_tcp_sum, at(1s));
  CHECK(k.e.stats()[drop::tcp_bad_checksum] == 1);
  CHECK(k.e.stats().total_drops() == 6);
  CHECK(drain(k.e).empty());

  k.e.on_frame(ping_frame(2), at(2s));
  auto out = drain(k.e);
  REQUIRE(out.size() == 1);
  CHECK(as_echo(out[0])->seq == 2);
}

TEST_CASE("receive: csum_not_ready + garbage TCP checksum -> accepted; same frame without the flag -> dropped") {
  frame f = tcp_frame();
  f[14 + 20 + 16] ^= 0x33;  // the checksum field
  f[14 + 20 + 17] ^= 0x44;
  {
    known_peer k;
    k.e.on_frame(f, at(1s), rx_meta{.csum_not_ready = true});
    CHECK(k.e.stats()[drop::tcp_bad_checksum] == 0);
    CHECK(k.e.stats()[counter::ip_in_delivers] == 1);
  }
  {
    known_peer k;
    k.e.on_frame(f, at(1s));
    CHECK(k.e.stats()[drop::tcp_bad_checksum] == 1);
  }
}

TEST_CASE("receive: 9000-byte frame (TSO super-frame) -> accepted, not dropped as malformed") {
  known_peer k;
  frame f = tcp_frame(9000 - 14 - 40, wire::tcp_flag::ack);
  REQUIRE(f.size() == 9000);
  k.e.on_frame(f, at(1s));
  CHECK(k.e.stats()[counter::ip_in_delivers] == 1);
  for (drop d : {drop::eth_too_short, drop::ipv4_too_short, drop::ipv4_bad_total_length, drop::ipv4_bad_checksum,
                 drop::tcp_too_short, drop::tcp_bad_data_offset, drop::tcp_bad_checksum}) {
    CHECK(k.e.stats()[d] == 0);
  }
}

// ---------------------------------------------------------------- TX ring

TEST_CASE("TX ring: more frames than slots -> the excess counted tx_queue_full, the rest sent") {
  known_peer k;
  for (std::uint16_t seq = 0; seq < 300; ++seq) k.e.on_frame(ping_frame(seq), at(1s));
  CHECK(k.e.stats()[drop::tx_queue_full] == 300 - 256);
  CHECK(k.e.stats()[counter::icmp_out_echo_reps] == 256);
  auto out = drain(k.e);
  REQUIRE(out.size() == 256);
  CHECK(as_echo(out.front())->seq == 0);
  CHECK(as_echo(out.back())->seq == 255);
  // Room again: the next request is answered.
  k.e.on_frame(ping_frame(1000), at(2s));
  CHECK(drain(k.e).size() == 1);
}

TEST_CASE("TX: next_frame with nothing queued -> 0") {
  engine e({}, our_iface(), 1);
  frame buf(1514);
  CHECK(e.next_frame(buf, at(0s)) == 0);
  CHECK_FALSE(e.next_event());
}
