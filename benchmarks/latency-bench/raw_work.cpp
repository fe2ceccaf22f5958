// latency-bench tcp-server --raw-work (raw_work.hpp).
#include "raw_work.hpp"

#include <array>
#include <span>
#include <stdexcept>

#include "latency.hpp"
#include "proto/engine.hpp"
#include "proto/settings.hpp"
#include "runtime/clock.hpp"

namespace coronet::latency {

namespace {

constexpr std::size_t max_timed_runs = std::size_t{1} << 22;  // 32 MiB of samples; later runs still run
constexpr std::size_t echo_len = 64;

// Addresses of the two in-memory engines: from the lab's 198.18.0.0/15, on
// a /24 no lab uses; no frame of theirs ever reaches a device.
constexpr ipv4_addr client_addr{0xc612ff01};  // 198.18.255.1
constexpr ipv4_addr server_addr{0xc612ff02};  // 198.18.255.2
constexpr std::uint16_t server_port = 7;

}  // namespace

// Two engines with one established connection between them; frames go from
// one's TX queue straight into the other's on_frame.
class raw_work::engine_pair {
 public:
  engine_pair()
      : client_(settings{}, iface(client_addr, 0x01), 1), server_(settings{}, iface(server_addr, 0x02), 2) {
    const time_point now = rt::steady_now();
    auto l = server_.listen(server_port, 1);
    if (!l) throw std::runtime_error("raw work tcp-echo: the in-memory server cannot listen");
    auto c = client_.connect(endpoint{server_addr, server_port}, now);
    if (!c) throw std::runtime_error("raw work tcp-echo: the in-memory client cannot connect");
    client_conn_ = *c;
    // ARP request and reply, SYN, SYN-ACK, ACK: a handful of rounds.
    for (int round = 0; round < 8; ++round) {
      if (!carry(client_, server_, now) && !carry(server_, client_, now)) break;
    }
    auto s = server_.accept(*l);
    auto info = client_.info(client_conn_);
    if (!s || !info || info->state != tcp_state::established)
      throw std::runtime_error("raw work tcp-echo: the in-memory handshake did not complete");
    server_conn_ = *s;
    drain_events();
  }

  void echo() {
    const time_point now = rt::steady_now();
    if (client_.send(client_conn_, msg_, now) != echo_len) fail("the client could not queue its 64 bytes");
    carry(client_, server_, now);
    const std::size_t got = server_.recv(server_conn_, buf_, now);
    if (got != echo_len) fail("the server read a short request");
    if (server_.send(server_conn_, std::span(buf_).first(got), now) != got) fail("the server could not queue its echo");
    carry(server_, client_, now);
    const std::size_t back = client_.recv(client_conn_, buf_, now);
    if (back != echo_len) fail("the client read a short echo");
    echoed_ += back;
    drain_events();
  }

  std::uint64_t echoed() const noexcept { return echoed_; }

 private:
  static interface_config iface(ipv4_addr a, std::uint8_t last) {
    interface_config c;
    c.mac = mac_addr{{0x02, 0, 0, 0, 0xff, last}};
    c.addr = a;
    c.prefix_len = 24;
    return c;
  }

  // Moves every frame `from` has queued into `to`; false when there was none.
  bool carry(engine& from, engine& to, time_point now) {
    bool any = false;
    while (from.has_frames()) {
      const std::size_t n = from.next_frame(frame_, now);
      if (n == 0) break;
      to.on_frame(std::span(frame_).first(n), now);
      any = true;
    }
    return any;
  }

  void drain_events() {
    while (client_.next_event()) {
    }
    while (server_.next_event()) {
    }
  }

  [[noreturn]] static void fail(const char* what) {
    throw std::runtime_error(std::string("raw work tcp-echo: ") + what);
  }

  engine client_, server_;
  conn_id client_conn_ = 0, server_conn_ = 0;
  std::array<std::uint8_t, 2048> frame_{};
  std::array<std::uint8_t, echo_len> msg_{};
  std::array<std::uint8_t, echo_len> buf_{};
  std::uint64_t echoed_ = 0;
};

raw_work::raw_work(const raw_work_spec& spec) : spec_(spec) {
  if (spec_.what == raw_work_spec::kind::tcp_echo) pair_ = std::make_unique<engine_pair>();
  ns_.reserve(max_timed_runs);
}

raw_work::~raw_work() = default;

void raw_work::run() {
  const time_point start = rt::steady_now();
  switch (spec_.what) {
    case raw_work_spec::kind::none:
      break;
    case raw_work_spec::kind::spin:
      while ((rt::steady_now() - start).count() < spec_.spin_ns) {
      }
      break;
    case raw_work_spec::kind::tcp_echo:
      pair_->echo();
      break;
  }
  if (ns_.size() < ns_.capacity()) ns_.push_back((rt::steady_now() - start).count());
  ++runs_;
}

std::uint64_t raw_work::bytes_echoed() const noexcept { return pair_ ? pair_->echoed() : 0; }

std::string raw_work::summary() const {
  std::string name = spec_.what == raw_work_spec::kind::tcp_echo ? "tcp-echo"
                     : spec_.what == raw_work_spec::kind::spin   ? "spin:" + std::to_string(spec_.spin_ns)
                                                                 : "none";
  std::vector<std::int64_t> v = ns_;
  return "raw work " + name + ": runs=" + std::to_string(runs_) + " bytes_echoed=" + std::to_string(bytes_echoed()) +
         " p50=" + percentile_us(v, 0.5) + " p90=" + percentile_us(v, 0.9) + " unit=us";
}

}  // namespace coronet::latency
