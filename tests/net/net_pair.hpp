// tests/net/net_pair.hpp - two net::stacks on one scheduler, joined back to
// back by an io::memory_device_pair, with a switch to lose frames on the
// client's side. No root, no interfaces; every scenario bounded in time.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <vector>

#include "io/memory_device.hpp"
#include "net/stack.hpp"
#include "runtime/cancel.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/task.hpp"

namespace coronet::net::test {

using namespace std::chrono_literals;

inline constexpr ipv4_addr client_ip = make_ipv4(198, 18, 0, 1);
inline constexpr ipv4_addr server_ip = make_ipv4(198, 18, 0, 2);
inline constexpr ipv4_addr absent_ip = make_ipv4(198, 18, 0, 99);  // on the subnet, nobody home

// A device in front of another that can discard outgoing frames.
class lossy_device final : public io::device {
 public:
  using filter_fn = std::function<bool(bytes frame)>;  // true: drop it
  explicit lossy_device(io::device& inner) : inner_(inner), buf_(inner.mtu() + 14u + 64u) {}

  filter_fn drop_tx;
  std::size_t dropped = 0;

  void start(io::rx_sink& sink) override { inner_.start(sink); }
  mut_bytes tx_buffer() override {
    if (inner_.tx_buffer().empty()) return {};  // the link is full: so are we
    return buf_;
  }
  void tx_commit(std::size_t len) override {
    bytes frame{buf_.data(), len};
    if (drop_tx && drop_tx(frame)) {
      ++dropped;
      return;
    }
    mut_bytes out = inner_.tx_buffer();
    REQUIRE(out.size() >= len);
    std::copy(frame.begin(), frame.end(), out.begin());
    inner_.tx_commit(len);
  }
  void flush() override { inner_.flush(); }
  void poll() override { inner_.poll(); }
  bool rx_ready() const override { return inner_.rx_ready(); }
  mac_addr mac() const override { return inner_.mac(); }
  std::uint16_t mtu() const override { return inner_.mtu(); }
  const io::device_stats& stats() const override { return inner_.stats(); }
  std::string name() const override { return "lossy:" + inner_.name(); }

 private:
  io::device& inner_;
  std::vector<std::uint8_t> buf_;
};

// Settings that make failures quick: retransmissions every few milliseconds.
inline settings fast_settings() {
  settings s;
  s.tcp_rto_initial = std::chrono::milliseconds(20);
  s.tcp_rto_min = std::chrono::milliseconds(10);
  s.neigh_retrans_time = std::chrono::milliseconds(20);
  s.neigh_mcast_solicit = 2;
  return s;
}

inline stack_config config_for(ipv4_addr a, const settings& s, std::uint64_t seed) {
  stack_config c;
  c.ifname = "memory";
  c.backend = "memory";
  c.addr = a;
  c.prefix_len = 24;
  c.tcp = s;
  c.seed = seed;
  return c;
}

struct net_pair {
  explicit net_pair(const settings& s = fast_settings(), rt::options o = {})
      : sched(o),
        lossy(link.a),
        client(sched, config_for(client_ip, s, 1), lossy),
        server(sched, config_for(server_ip, s, 2), link.b) {}

  rt::scheduler sched;
  io::memory_device_pair link;
  lossy_device lossy;
  stack client;
  stack server;

  // Runs `body` to completion on the loop; a scenario that hangs fails after `limit`.
  template <class T>
  T run(rt::task<T> body, duration limit = std::chrono::seconds(10)) {
    auto r = sched.block_on(rt::with_timeout(std::move(body), limit));
    REQUIRE_MESSAGE(static_cast<bool>(r), "scenario did not finish in time");
    if constexpr (!std::is_void_v<T>) return std::move(*r);
  }
};

// connect() and accept() together; both streams established.
struct connected {
  stream client, server;
};
inline rt::task<connected> connect_pair(net_pair& p, listener& l) {
  std::optional<result<stream>> accepted;
  auto acceptor = [](listener& l, std::optional<result<stream>>& out) -> rt::task<> {
    out.emplace(co_await l.accept());
  };
  p.sched.spawn(acceptor(l, accepted));
  result<stream> c = co_await p.client.connect(l.local());
  REQUIRE(c.has_value());
  for (int i = 0; i < 1000 && !accepted; ++i) co_await rt::yield();
  REQUIRE(accepted.has_value());
  REQUIRE(accepted->has_value());
  co_return connected{std::move(*c), std::move(**accepted)};
}

}  // namespace coronet::net::test
