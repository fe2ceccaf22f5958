// tests/proto/wire/captured_test.cpp - frames the Linux kernel sent, decoded field by
// field against tcpdump -vvv, re-emitted byte for byte, and truncated at every length.
#include <doctest/doctest.h>

#include <algorithm>
#include <string_view>
#include <vector>

#include "captured_frames.hpp"
#include "proto/wire/arp.hpp"
#include "proto/wire/ethernet.hpp"
#include "proto/wire/icmp.hpp"
#include "proto/wire/ipv4.hpp"
#include "proto/wire/tcp.hpp"
#include "wire_test_util.hpp"

using namespace coronet;
using namespace coronet::wire;
namespace cap = coronet::test::captured;
using coronet::test::exact;
using coronet::test::view;

namespace {
const ipv4_addr kernel_ip = make_ipv4(198, 18, 9, 1);
const ipv4_addr peer_ip = make_ipv4(198, 18, 9, 2);
const mac_addr kernel_mac{{0x1a, 0x3f, 0x1f, 0x5f, 0x8c, 0x49}};
const mac_addr peer_mac{{0x2e, 0x59, 0xa7, 0x55, 0x0b, 0xf4}};

// tcpdump prints relative sequence numbers after the SYNs; these are the ISNs.
constexpr std::uint32_t client_isn = 3997901350u;  // from 198.18.9.1.48022
constexpr std::uint32_t server_isn = 769702121u;   // from 198.18.9.2.5001

struct decoded_tcp {
  ethernet_header eth;
  ipv4_header ip;
  tcp_header tcp;
  std::vector<std::uint8_t> payload;
};

template <std::size_t N>
decoded_tcp decode_tcp(const std::array<std::uint8_t, N>& frame) {
  auto eth = ethernet_view::parse(frame);
  REQUIRE(eth);
  auto ip = ipv4_view::parse(eth->payload());
  REQUIRE(ip);
  REQUIRE(ip->header().proto == static_cast<std::uint8_t>(ip_proto::tcp));
  auto tcp = tcp_view::parse(ip->payload(), ip->header().src, ip->header().dst);
  REQUIRE(tcp);
  return {eth->header(), ip->header(), tcp->header(), {tcp->payload().begin(), tcp->payload().end()}};
}

// Rebuilds the whole frame from the decoded structs with coronet's emitters.
std::vector<std::uint8_t> reemit(const decoded_tcp& d) {
  std::vector<std::uint8_t> out(14 + 20 + tcp_header_len(d.tcp) + d.payload.size());
  REQUIRE(emit(d.eth, out) == 14);
  REQUIRE(emit(d.ip, mut_bytes(out).subspan(14)) == 20);
  REQUIRE(emit(d.tcp, d.payload, d.ip.src, d.ip.dst, mut_bytes(out).subspan(34)) == out.size() - 34);
  return out;
}

template <std::size_t N>
std::vector<std::uint8_t> vec(const std::array<std::uint8_t, N>& a) {
  return {a.begin(), a.end()};
}

// Runs the whole receive chain; true when every layer accepted the frame.
bool decodes(bytes frame) {
  auto eth = ethernet_view::parse(frame);
  if (!eth) return false;
  if (eth->header().type == static_cast<std::uint16_t>(ethertype::arp)) return parse_arp(eth->payload()).has_value();
  auto ip = ipv4_view::parse(eth->payload());
  if (!ip) return false;
  if (ip->header().proto == static_cast<std::uint8_t>(ip_proto::icmp)) {
    return parse_icmp_echo(ip->payload()).has_value();
  }
  return tcp_view::parse(ip->payload(), ip->header().src, ip->header().dst).has_value();
}

const std::vector<std::vector<std::uint8_t>> all_frames = {
    vec(cap::arp_request), vec(cap::arp_reply),  vec(cap::icmp_echo_request), vec(cap::icmp_echo_reply),
    vec(cap::tcp_syn),     vec(cap::tcp_syn_ack), vec(cap::tcp_ack),          vec(cap::tcp_data),
    vec(cap::tcp_data_ack), vec(cap::tcp_fin_client), vec(cap::tcp_fin_server), vec(cap::tcp_last_ack)};
}  // namespace

TEST_CASE("captured: the MAC constants match the frames") {
  CHECK(std::equal(kernel_mac.b.begin(), kernel_mac.b.end(), cap::kernel_mac));
  CHECK(std::equal(peer_mac.b.begin(), peer_mac.b.end(), cap::peer_mac));
}

TEST_CASE("captured: ARP request who-has 198.18.9.2 tell 198.18.9.1") {
  auto eth = ethernet_view::parse(cap::arp_request);
  REQUIRE(eth);
  CHECK(eth->header() == ethernet_header{mac_addr::broadcast(), kernel_mac, 0x0806});
  auto a = parse_arp(eth->payload());
  REQUIRE(a);
  CHECK(a->op == arp_op::request);
  CHECK(a->sha == kernel_mac);
  CHECK(a->spa == kernel_ip);
  CHECK(a->tha == mac_addr{});
  CHECK(a->tpa == peer_ip);
  std::vector<std::uint8_t> out(42);
  REQUIRE(emit(eth->header(), out) == 14);
  REQUIRE(emit(*a, mut_bytes(out).subspan(14)) == 28);
  CHECK(out == vec(cap::arp_request));
}

TEST_CASE("captured: ARP reply 198.18.9.2 is-at 2e:59:a7:55:0b:f4") {
  auto eth = ethernet_view::parse(cap::arp_reply);
  REQUIRE(eth);
  CHECK(eth->header() == ethernet_header{kernel_mac, peer_mac, 0x0806});
  auto a = parse_arp(eth->payload());
  REQUIRE(a);
  CHECK(*a == arp_packet{arp_op::reply, peer_mac, peer_ip, kernel_mac, kernel_ip});
  std::vector<std::uint8_t> out(42);
  REQUIRE(emit(eth->header(), out) == 14);
  REQUIRE(emit(*a, mut_bytes(out).subspan(14)) == 28);
  CHECK(out == vec(cap::arp_reply));
}

TEST_CASE("captured: ICMP echo request id 3344 seq 1, 56 data bytes, DF, ttl 64") {
  auto eth = ethernet_view::parse(cap::icmp_echo_request);
  REQUIRE(eth);
  CHECK(eth->header() == ethernet_header{peer_mac, kernel_mac, 0x0800});
  auto ip = ipv4_view::parse(eth->payload());
  REQUIRE(ip);
  const ipv4_header h = ip->header();
  CHECK(h.src == kernel_ip);
  CHECK(h.dst == peer_ip);
  CHECK(h.proto == 1);
  CHECK(h.ttl == 64);
  CHECK(h.tos == 0);
  CHECK(h.id == 34350);
  CHECK(h.dont_fragment);
  CHECK(h.payload_len == 64);  // IP length 84
  CHECK_FALSE(ip->is_fragment());
  auto e = parse_icmp_echo(ip->payload());
  REQUIRE(e);
  CHECK(e->type == icmp_type::echo_request);
  CHECK(e->id == 3344);
  CHECK(e->seq == 1);
  REQUIRE(e->data.size() == 56);
  CHECK(e->data[16] == 0x10);  // ping's pattern after its 16-byte timestamp: 10 11 12 ...
  CHECK(e->data[55] == 0x37);
  // Our IPv4 emitter reproduces the kernel's header, checksum 0x1653 included.
  std::vector<std::uint8_t> hdr(20);
  REQUIRE(emit(h, hdr) == 20);
  CHECK(std::equal(hdr.begin(), hdr.end(), cap::icmp_echo_request.begin() + 14));
}

TEST_CASE("captured: the echo reply built in place over the request equals the kernel's reply") {
  auto frame = vec(cap::icmp_echo_request);
  auto ip = ipv4_view::parse(bytes(frame).subspan(14));
  REQUIRE(ip);
  auto req = parse_icmp_echo(ip->payload());
  REQUIRE(req);
  // The kernel's reply (id 30157, no DF) with the same ICMP message bytes.
  auto want = ipv4_view::parse(bytes(cap::icmp_echo_reply).subspan(14));
  REQUIRE(want);
  CHECK(want->header().id == 30157);
  CHECK_FALSE(want->header().dont_fragment);
  const std::size_t off = 14 + ip->header_len();
  icmp_echo reply{icmp_type::echo_reply, req->id, req->seq, req->data};
  REQUIRE(emit(reply, mut_bytes(frame).subspan(off)) == 64);
  CHECK(std::equal(frame.begin() + static_cast<long>(off), frame.end(), cap::icmp_echo_reply.begin() + 34));
  auto e = parse_icmp_echo(want->payload());
  REQUIRE(e);
  CHECK(e->type == icmp_type::echo_reply);
  CHECK(e->id == 3344);
  CHECK(e->seq == 1);
}

TEST_CASE("captured: SYN 48022 > 5001 [mss 1460,sackOK,TS val 2045706923 ecr 0,nop,wscale 10]") {
  auto d = decode_tcp(cap::tcp_syn);
  CHECK(d.eth == ethernet_header{peer_mac, kernel_mac, 0x0800});
  CHECK(d.ip.src == kernel_ip);
  CHECK(d.ip.dst == peer_ip);
  CHECK(d.ip.id == 62051);
  CHECK(d.ip.dont_fragment);
  CHECK(d.ip.payload_len == 40);
  CHECK(d.tcp.src_port == 48022);
  CHECK(d.tcp.dst_port == 5001);
  CHECK(d.tcp.seq == client_isn);
  CHECK(d.tcp.ack == 0);
  CHECK(d.tcp.flags == tcp_flag::syn);
  CHECK(d.tcp.window == 64240);
  CHECK(d.tcp.urgent == 0);
  CHECK(d.tcp.options.mss == 1460);
  CHECK(d.tcp.options.sack_permitted);
  REQUIRE(d.tcp.options.timestamps);
  CHECK(d.tcp.options.timestamps->tsval == 2045706923u);
  CHECK(d.tcp.options.timestamps->tsecr == 0u);
  CHECK(d.tcp.options.window_scale == 10);
  CHECK(d.tcp.options.sack_count == 0);
  CHECK(d.payload.empty());
  CHECK(reemit(d) == vec(cap::tcp_syn));  // cksum 0x52b8 as tcpdump reported
}

TEST_CASE("captured: SYN-ACK 5001 > 48022 [mss 1460,sackOK,TS val 2568910556 ecr 2045706923,nop,wscale 10]") {
  auto d = decode_tcp(cap::tcp_syn_ack);
  CHECK(d.ip.src == peer_ip);
  CHECK(d.ip.id == 0);
  CHECK(d.tcp.src_port == 5001);
  CHECK(d.tcp.dst_port == 48022);
  CHECK(d.tcp.seq == server_isn);
  CHECK(d.tcp.ack == client_isn + 1);  // ack 3997901351
  CHECK(d.tcp.flags == (tcp_flag::syn | tcp_flag::ack));
  CHECK(d.tcp.window == 65160);
  CHECK(d.tcp.options.mss == 1460);
  CHECK(d.tcp.options.sack_permitted);
  CHECK(d.tcp.options.timestamps == tcp_timestamps{2568910556u, 2045706923u});
  CHECK(d.tcp.options.window_scale == 10);
  CHECK(reemit(d) == vec(cap::tcp_syn_ack));
}

TEST_CASE("captured: ACK completing the handshake [nop,nop,TS val 2045706923 ecr 2568910556]") {
  auto d = decode_tcp(cap::tcp_ack);
  CHECK(d.tcp.src_port == 48022);
  CHECK(d.tcp.seq == client_isn + 1);
  CHECK(d.tcp.ack == server_isn + 1);
  CHECK(d.tcp.flags == tcp_flag::ack);
  CHECK(d.tcp.window == 63);  // scaled by 2^10 on the receiver's side
  CHECK_FALSE(d.tcp.options.mss);
  CHECK_FALSE(d.tcp.options.window_scale);
  CHECK_FALSE(d.tcp.options.sack_permitted);
  CHECK(d.tcp.options.timestamps == tcp_timestamps{2045706923u, 2568910556u});
  CHECK(d.payload.empty());
  CHECK(reemit(d) == vec(cap::tcp_ack));
}

TEST_CASE("captured: data segment [P.] seq 1:15 carries \"hello coronet\\n\"") {
  auto d = decode_tcp(cap::tcp_data);
  CHECK(d.ip.payload_len == 46);
  CHECK(d.tcp.seq == client_isn + 1);
  CHECK(d.tcp.ack == server_isn + 1);
  CHECK(d.tcp.flags == (tcp_flag::psh | tcp_flag::ack));
  CHECK(d.tcp.window == 63);
  CHECK(d.tcp.options.timestamps == tcp_timestamps{2045706923u, 2568910556u});
  CHECK(std::string_view(reinterpret_cast<const char*>(d.payload.data()), d.payload.size()) == "hello coronet\n");
  CHECK(reemit(d) == vec(cap::tcp_data));
}

TEST_CASE("captured: the server's ACK of the data: ack 15, win 64") {
  auto d = decode_tcp(cap::tcp_data_ack);
  CHECK(d.tcp.src_port == 5001);
  CHECK(d.tcp.seq == server_isn + 1);
  CHECK(d.tcp.ack == client_isn + 15);
  CHECK(d.tcp.flags == tcp_flag::ack);
  CHECK(d.tcp.window == 64);
  CHECK(d.tcp.options.timestamps == tcp_timestamps{2568910556u, 2045706923u});
  CHECK(reemit(d) == vec(cap::tcp_data_ack));
}

TEST_CASE("captured: FIN from each side and the last ACK") {
  auto fin = decode_tcp(cap::tcp_fin_client);
  CHECK(fin.tcp.flags == (tcp_flag::fin | tcp_flag::ack));
  CHECK(fin.tcp.seq == client_isn + 15);
  CHECK(fin.tcp.ack == server_isn + 1);
  CHECK(fin.tcp.options.timestamps == tcp_timestamps{2045706923u, 2568910556u});
  CHECK(reemit(fin) == vec(cap::tcp_fin_client));

  auto fin2 = decode_tcp(cap::tcp_fin_server);
  CHECK(fin2.tcp.src_port == 5001);
  CHECK(fin2.tcp.flags == (tcp_flag::fin | tcp_flag::ack));
  CHECK(fin2.tcp.seq == server_isn + 1);
  CHECK(fin2.tcp.ack == client_isn + 16);
  CHECK(fin2.tcp.options.timestamps == tcp_timestamps{2568910557u, 2045706923u});
  CHECK(reemit(fin2) == vec(cap::tcp_fin_server));

  auto last = decode_tcp(cap::tcp_last_ack);
  CHECK(last.tcp.flags == tcp_flag::ack);
  CHECK(last.tcp.seq == client_isn + 16);
  CHECK(last.tcp.ack == server_isn + 2);
  CHECK(last.tcp.options.timestamps == tcp_timestamps{2045706924u, 2568910557u});
  CHECK(reemit(last) == vec(cap::tcp_last_ack));
}

TEST_CASE("captured: every frame decodes whole and fails at every shorter length") {
  for (std::size_t f = 0; f < all_frames.size(); ++f) {
    const auto& frame = all_frames[f];
    CAPTURE(f);
    CHECK(decodes(view(exact(view(frame)))));
    for (std::size_t n = 0; n < frame.size(); ++n) {
      CAPTURE(n);
      auto cut = exact(bytes(frame).first(n));
      CHECK_FALSE(decodes(view(cut)));
    }
  }
}

TEST_CASE("captured: a flipped bit anywhere in an IP packet is caught by a checksum or a length check") {
  for (std::size_t f = 2; f < all_frames.size(); ++f) {  // the IPv4 frames
    for (std::size_t i = 14; i < all_frames[f].size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        auto frame = all_frames[f];
        frame[i] = static_cast<std::uint8_t>(frame[i] ^ (1u << bit));
        CAPTURE(f);
        CAPTURE(i);
        CAPTURE(bit);
        CHECK_FALSE(decodes(view(frame)));
      }
    }
  }
}
