// tests/io/af_packet_test.cpp - the AF_PACKET device against the kernel on a
// veth pair (scripts/lab.sh, prefix afp, 198.18.7.0/24). Needs root: without
// it each case says it is skipped and returns.
// The test enters the lab's namespaces with setns() for the sockets it makes
// (a socket stays in the namespace it was created in) and leaves them again.
#include <doctest/doctest.h>

#include "veth_lab.hpp"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "io/af_packet.hpp"
#include "runtime/clock.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/timer.hpp"

namespace io = coronet::io;
namespace rt = coronet::rt;
using namespace std::chrono_literals;
using coronet::bytes;
using coronet::load_be16;
using coronet::store_be16;

namespace {

constexpr const char* ns_co = "afp-co";
constexpr const char* ns_kn = "afp-kn";
constexpr const char* if_co = "afp-co0";
constexpr std::uint8_t ip_kernel[4] = {198, 18, 7, 1};
constexpr std::uint8_t ip_coronet[4] = {198, 18, 7, 2};

using coronet::test::in_netns;
using coronet::test::is_root;
using coronet::test::run_until;

struct lab : coronet::test::veth_lab {
  explicit lab(bool offloads) : veth_lab("afp", 7, offloads ? "--offloads on" : "--offloads off") {}
};

struct captured {
  std::vector<std::uint8_t> bytes;
  bool csum_not_ready;
};
struct collector final : io::rx_sink {
  std::vector<captured> frames;
  void on_frame(bytes f, coronet::rx_meta m) override { frames.push_back({{f.begin(), f.end()}, m.csum_not_ready}); }
};

// An ARP request "who has 198.18.7.1, tell 198.18.7.2" (RFC 826).
std::size_t write_arp_request(coronet::mut_bytes out, const coronet::mac_addr& me) {
  return coronet::test::write_arp_request(out, me, ip_coronet, ip_kernel);
}

bool is_arp_reply_from_kernel(const captured& c, const coronet::mac_addr& me) {
  const auto& f = c.bytes;
  return f.size() >= 42 && load_be16(&f[12]) == 0x0806 && load_be16(&f[20]) == 2 &&
         std::memcmp(&f[28], ip_kernel, 4) == 0 && std::memcmp(&f[0], me.b.data(), 6) == 0 &&
         std::memcmp(&f[32], me.b.data(), 6) == 0;
}

// IPv4 frames for 198.18.7.2 carrying `proto`.
std::vector<const captured*> ipv4_to_coronet(const collector& c, std::uint8_t proto) {
  std::vector<const captured*> out;
  for (const auto& f : c.frames) {
    const auto& b = f.bytes;
    if (b.size() >= 34 && load_be16(&b[12]) == 0x0800 && b[23] == proto && std::memcmp(&b[30], ip_coronet, 4) == 0) {
      out.push_back(&f);
    }
  }
  return out;
}

sockaddr_in coronet_addr(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  std::memcpy(&a.sin_addr, ip_coronet, 4);
  return a;
}

}  // namespace

TEST_CASE("af_packet: unknown interface -> error names it") {
  rt::uring ring(64, false);
  try {
    io::af_packet dev(ring, {.ifname = "nosuchif0"});
    FAIL("no exception");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "af_packet: interface nosuchif0 not found");
  }
}

TEST_CASE("af_packet: ARP request to the kernel -> the kernel's ARP reply comes back") {
  if (!is_root()) CORONET_SKIP_CASE("needs root for the namespace lab and AF_PACKET");
  rt::options mode;
  SUBCASE("sleeping") { mode.busy_poll = false; }
  SUBCASE("busy-poll") { mode.busy_poll = true; }
  lab l(false);
  REQUIRE(l.ok);
  rt::scheduler s(mode);
  collector sink;
  std::optional<io::af_packet> dev;
  {
    in_netns enter(ns_co);
    REQUIRE(enter.entered);
    dev.emplace(s.ring(), io::af_packet_config{.ifname = if_co});
  }
  CHECK(dev->mtu() == 1500);
  CHECK_FALSE(dev->mac().is_multicast());
  dev->start(sink);

  auto buf = dev->tx_buffer();
  REQUIRE(buf.size() >= 1514);
  dev->tx_commit(write_arp_request(buf, dev->mac()));
  dev->flush();
  const auto me = dev->mac();
  bool got = run_until(
      s,
      [&] {
        for (const auto& f : sink.frames) {
          if (is_arp_reply_from_kernel(f, me)) return true;
        }
        return false;
      },
      5s);
  CHECK(got);
  CHECK(dev->stats().tx_frames == 1);
  CHECK(dev->stats().tx_errors == 0);
  CHECK(dev->stats().rx_frames >= 1);
}

TEST_CASE("af_packet: 1000 ARP requests through 16 TX buffers -> buffers recycled, 1000 replies") {
  if (!is_root()) CORONET_SKIP_CASE("needs root for the namespace lab and AF_PACKET");
  lab l(false);
  REQUIRE(l.ok);
  rt::scheduler s({.busy_poll = true});
  collector sink;
  std::optional<io::af_packet> dev;
  {
    in_netns enter(ns_co);
    REQUIRE(enter.entered);
    dev.emplace(s.ring(), io::af_packet_config{.ifname = if_co, .rx_buffers = 256, .tx_buffers = 16});
  }
  dev->start(sink);
  const auto me = dev->mac();
  int sent = 0;
  s.block_on([](io::af_packet& d, coronet::mac_addr me, int& sent) -> rt::task<> {
    // Bounded: buffers that never come back end the loop (and the CHECKs below fail).
    const auto give_up = rt::steady_now() + 10s;
    while (sent < 1000 && rt::steady_now() < give_up) {
      auto buf = d.tx_buffer();
      if (buf.empty()) {
        co_await rt::yield();
        continue;
      }
      d.tx_commit(write_arp_request(buf, me));
      ++sent;
      if (sent % 8 == 0) {
        d.flush();
        co_await rt::sleep_for(50us);  // let the kernel's backlog drain
      }
    }
    d.flush();
  }(*dev, me, sent));
  auto replies = [&] {
    int n = 0;
    for (const auto& f : sink.frames) n += is_arp_reply_from_kernel(f, me) ? 1 : 0;
    return n;
  };
  run_until(s, [&] { return replies() >= 1000; }, 5s);
  CHECK(sent == 1000);
  CHECK(dev->stats().tx_frames == 1000);
  CHECK(dev->stats().tx_errors == 0);
  CHECK(replies() == 1000);
}

// The kernel sends UDP and a TCP SYN to 198.18.7.2 (a static neighbour entry
// points at afp-co0, so no ARP is needed); UDP_SEGMENT asks for one GSO
// super-frame. With offloads on, veth hands frames over with CHECKSUM_PARTIAL
// (TP_STATUS_CSUMNOTREADY) and unsegmented; with them off, neither.
TEST_CASE("af_packet: kernel traffic with offloads on/off -> csum_not_ready and super-frames as configured") {
  if (!is_root()) CORONET_SKIP_CASE("needs root for the namespace lab and AF_PACKET");
  bool offloads = false;
  SUBCASE("offloads off") { offloads = false; }
  SUBCASE("offloads on") { offloads = true; }
  lab l(offloads);
  REQUIRE(l.ok);
  rt::scheduler s;
  collector sink;
  std::optional<io::af_packet> dev;
  {
    in_netns enter(ns_co);
    REQUIRE(enter.entered);
    dev.emplace(s.ring(), io::af_packet_config{.ifname = if_co});
  }
  dev->start(sink);
  REQUIRE(std::system(("ip -n afp-kn neigh replace 198.18.7.2 lladdr " + dev->mac().to_string() +
                       " dev afp-kn0 nud permanent")
                          .c_str()) == 0);

  int udp = -1, tcp = -1, gso = -1;
  {
    in_netns enter(ns_kn);
    REQUIRE(enter.entered);
    udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    tcp = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    gso = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  }
  REQUIRE(udp >= 0);
  REQUIRE(tcp >= 0);
  REQUIRE(gso >= 0);
  auto dst = coronet_addr(9);
  std::vector<std::uint8_t> payload(4000, 0x5a);
  CHECK(::sendto(udp, payload.data(), 100, 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst) == 100);
  auto dst_tcp = coronet_addr(5000);
  CHECK(::connect(tcp, reinterpret_cast<sockaddr*>(&dst_tcp), sizeof dst_tcp) == -1);
  CHECK(errno == EINPROGRESS);
  bool gso_sent = false;
  if (offloads) {
    int seg = 1000;  // UDP GSO needs checksum offload, so only with offloads on
    REQUIRE(::setsockopt(gso, IPPROTO_UDP, UDP_SEGMENT, &seg, sizeof seg) == 0);
    gso_sent = ::sendto(gso, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst) ==
               static_cast<ssize_t>(payload.size());
    CHECK(gso_sent);
  }

  const std::size_t want_udp = offloads ? 2 : 1;  // the small datagram (+ one super-frame)
  run_until(
      s,
      [&] { return ipv4_to_coronet(sink, 17).size() >= want_udp && !ipv4_to_coronet(sink, 6).empty(); }, 5s);
  ::close(udp);
  ::close(tcp);
  ::close(gso);

  auto udps = ipv4_to_coronet(sink, 17);
  auto tcps = ipv4_to_coronet(sink, 6);
  REQUIRE(udps.size() == want_udp);
  REQUIRE_FALSE(tcps.empty());
  CHECK(udps[0]->bytes.size() == 14 + 20 + 8 + 100);
  CHECK(udps[0]->csum_not_ready == offloads);
  CHECK((tcps[0]->bytes[14 + 20 + 13] & 0x02) != 0);  // SYN
  CHECK(tcps[0]->csum_not_ready == offloads);
  if (offloads) {
    // One frame carrying all 4000 bytes: far above the 1514-byte MTU frame.
    CHECK(udps[1]->bytes.size() == 14 + 20 + 8 + 4000);
    CHECK(udps[1]->csum_not_ready);
    CHECK(dev->stats().rx_csum_not_ready >= 3);
  } else {
    CHECK(dev->stats().rx_csum_not_ready == 0);
  }
  CHECK(dev->stats().rx_truncated == 0);
}

TEST_CASE("af_packet: frame larger than the receive buffer -> counted as truncated, dropped") {
  if (!is_root()) CORONET_SKIP_CASE("needs root for the namespace lab and AF_PACKET");
  lab l(true);
  REQUIRE(l.ok);
  rt::scheduler s;
  collector sink;
  std::optional<io::af_packet> dev;
  {
    in_netns enter(ns_co);
    REQUIRE(enter.entered);
    dev.emplace(s.ring(), io::af_packet_config{.ifname = if_co, .rx_buffer_size = 2048});
  }
  dev->start(sink);
  REQUIRE(std::system(("ip -n afp-kn neigh replace 198.18.7.2 lladdr " + dev->mac().to_string() +
                       " dev afp-kn0 nud permanent")
                          .c_str()) == 0);
  int gso = -1;
  {
    in_netns enter(ns_kn);
    REQUIRE(enter.entered);
    gso = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  }
  REQUIRE(gso >= 0);
  int seg = 1000;
  REQUIRE(::setsockopt(gso, IPPROTO_UDP, UDP_SEGMENT, &seg, sizeof seg) == 0);
  std::vector<std::uint8_t> payload(4000, 0x5a);
  auto dst = coronet_addr(9);
  REQUIRE(::sendto(gso, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst) == 4000);
  bool seen = run_until(s, [&] { return dev->stats().rx_truncated >= 1; }, 5s);
  ::close(gso);
  CHECK(seen);
  CHECK(ipv4_to_coronet(sink, 17).empty());
}
