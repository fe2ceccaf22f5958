// tests/io/memory_device_test.cpp - back-to-back in-process devices.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "io/memory_device.hpp"

namespace io = coronet::io;
using coronet::bytes;
using coronet::rx_meta;

namespace {
struct collector final : io::rx_sink {
  std::vector<std::vector<std::uint8_t>> frames;
  void on_frame(bytes f, rx_meta) override { frames.emplace_back(f.begin(), f.end()); }
};

void send(io::device& d, std::uint8_t tag, std::size_t len) {
  auto buf = d.tx_buffer();
  REQUIRE(buf.size() >= len);
  std::memset(buf.data(), tag, len);
  d.tx_commit(len);
}
}  // namespace

TEST_CASE("memory_device: frame committed and flushed on a -> delivered at b's poll") {
  io::memory_device_pair link;
  collector ra, rb;
  link.a.start(ra);
  link.b.start(rb);
  send(link.a, 0x11, 60);
  send(link.a, 0x22, 1514);
  link.b.poll();
  CHECK(rb.frames.empty());  // not flushed yet
  CHECK_FALSE(link.b.rx_ready());
  link.a.flush();
  CHECK(link.b.rx_ready());
  link.b.poll();
  REQUIRE(rb.frames.size() == 2);
  CHECK(rb.frames[0] == std::vector<std::uint8_t>(60, 0x11));
  CHECK(rb.frames[1] == std::vector<std::uint8_t>(1514, 0x22));
  CHECK(ra.frames.empty());
  CHECK(link.a.stats().tx_frames == 2);
  CHECK(link.a.stats().tx_bytes == 1574);
  CHECK(link.b.stats().rx_frames == 2);
  CHECK(link.b.stats().rx_bytes == 1574);
}

TEST_CASE("memory_device: queue full -> tx_buffer empty and tx_ring_full counted; drains after poll") {
  io::memory_device_pair link({.mtu = 1500, .queue_frames = 4});
  collector rb;
  link.b.start(rb);
  for (int i = 0; i < 4; ++i) send(link.a, static_cast<std::uint8_t>(i), 100);
  CHECK(link.a.tx_buffer().empty());
  CHECK(link.a.stats().tx_ring_full == 1);
  link.a.flush();
  link.b.poll();
  CHECK(rb.frames.size() == 4);
  CHECK_FALSE(link.a.tx_buffer().empty());
}

TEST_CASE("memory_device: ring wraps around -> order kept") {
  io::memory_device_pair link({.mtu = 1500, .queue_frames = 3});
  collector rb;
  link.b.start(rb);
  for (int round = 0; round < 5; ++round) {
    send(link.a, static_cast<std::uint8_t>(2 * round), 64);
    send(link.a, static_cast<std::uint8_t>(2 * round + 1), 64);
    link.a.flush();
    link.b.poll();
  }
  REQUIRE(rb.frames.size() == 10);
  for (int i = 0; i < 10; ++i) CHECK(rb.frames[i][0] == i);
}

TEST_CASE("memory_device: reply sent from inside on_frame -> delivered at the next poll, not recursively") {
  io::memory_device_pair link;
  struct echo final : io::rx_sink {
    io::device* dev = nullptr;
    int seen = 0;
    void on_frame(bytes f, rx_meta) override {
      ++seen;
      auto buf = dev->tx_buffer();
      std::memcpy(buf.data(), f.data(), f.size());
      dev->tx_commit(f.size());
      dev->flush();
    }
  } ea, eb;
  ea.dev = &link.a;
  eb.dev = &link.b;
  link.a.start(ea);
  link.b.start(eb);
  send(link.a, 7, 64);
  link.a.flush();
  for (int i = 0; i < 3; ++i) {
    link.b.poll();
    link.a.poll();
  }
  CHECK(ea.seen == 3);
  CHECK(eb.seen == 3);
}

TEST_CASE("memory_device_pair: default and fixed MACs, MTU") {
  io::memory_device_pair d;
  CHECK(d.a.mac() != d.b.mac());
  CHECK_FALSE(d.a.mac().is_multicast());
  auto m = coronet::mac_addr{{0x02, 1, 2, 3, 4, 5}};
  io::memory_device_pair f({.mtu = 9000, .queue_frames = 8, .mac_a = m, .mac_b = std::nullopt});
  CHECK(f.a.mac() == m);
  CHECK(f.a.mtu() == 9000);
  CHECK(f.a.tx_buffer().size() >= 9014);
}
