// tests/io/af_xdp_no_syscall_test.cpp - busy-polled, the AF_XDP device reads
// its rings directly: idle, and while frames arrive with nothing to send, the
// loop's thread makes no system call (tests/syscall_probe.hpp catches the
// first one). In copy mode the kernel never asks for a fill-ring kick; a frame
// sent does need its TX kick, an IORING_OP_SEND submitted by io_uring_enter,
// and the probe sees that one. The same holds for a whole net::stack with an
// established connection to the kernel's TCP: idle, its timers and poll make
// no syscall; keepalive probes (something to send) make the kick. Needs root
// (the lab, XDP).
#include <doctest/doctest.h>

#include "af_xdp_lab.hpp"
#include "syscall_probe.hpp"

#include <sys/syscall.h>

#include <poll.h>

#include <array>
#include <atomic>
#include <thread>

#include "net/stack.hpp"

using namespace coronet::test::axd;
using coronet::test::syscall_probe;
namespace net = coronet::net;

namespace {

// Counts UDP datagrams to coronet's address; allocates nothing (a heap that
// grows would be a syscall of the sink's, not the device's).
struct udp_counter final : io::rx_sink {
  std::size_t udp = 0;
  void on_frame(bytes f, coronet::rx_meta) override { udp += is_udp_to(f, ip_coronet) ? 1 : 0; }
};

struct window {
  long idle_first = -2;     // the probe's answer after the idle spell
  long receive_first = -2;  // ... after the datagrams arrived
};

// Unarmed first: a 1 ms sleep and a first batch of `n` datagrams, so every
// step of the path has run once (the sanitizer build checks each dynamic type
// on its first use, and UBSan's check makes a syscall: IsAccessibleMemoryRange
// opens a pipe). Then armed: 20 ms with nothing on the wire, and the second
// batch, spinning until it is in (5 s at most for each batch).
rt::task<> spin_armed(syscall_probe& probe, const udp_counter& sink, std::atomic<int>& go, std::size_t n,
                      window& w) {
  rt::scheduler& s = *rt::scheduler::current();
  co_await rt::sleep_for(1ms);
  go.store(1, std::memory_order_release);
  coronet::time_point until = s.now() + 5s;
  while (sink.udp < n && s.now() < until) co_await rt::yield();
  probe.arm();
  co_await rt::sleep_for(20ms);
  w.idle_first = probe.first();
  go.store(2, std::memory_order_release);
  until = s.now() + 5s;
  while (sink.udp < 2 * n && s.now() < until) co_await rt::yield();
  w.receive_first = probe.first();
  probe.disarm();
}

}  // namespace

TEST_CASE("af_xdp busy-polled: idle 20 ms, then 32 datagrams in -> no system call on the loop's thread; a send -> its kick") {
  SKIP_UNLESS_ROOT();
  const io::xdp_mode mode = each_xdp_mode();
  lab l;
  REQUIRE_MESSAGE(l.ok, "lab.sh: " << l.error);
  rt::scheduler s({.busy_poll = true});
  udp_counter sink;
  std::optional<io::af_xdp> dev;
  start_in_lab(dev, s, sink, config(mode, true));
  INFO(dev->describe());
  device_poller poller(s, *dev);
  kernel_knows_coronet(dev->mac());  // permanent: the kernel sends coronet no ARP

  // The kernel's side sends from a thread of its own: its syscalls are not
  // the loop thread's, which the probe watches.
  constexpr std::size_t n = 32;
  const int fd = udp_socket_in(ns_kn);
  REQUIRE(fd >= 0);
  std::atomic<int> go{0};
  std::atomic<int> sent{0};
  std::thread sender([&] {
    for (int batch = 1; batch <= 2; ++batch) {
      for (int i = 0; i < 2000 && go.load(std::memory_order_acquire) < batch; ++i) std::this_thread::sleep_for(5ms);
      if (go.load(std::memory_order_acquire) < batch) return;
      for (std::size_t i = 0; i < n; ++i) {
        const sockaddr_in to = sockaddr_of(ip_coronet, static_cast<std::uint16_t>(9000 + i));
        if (::sendto(fd, "x", 1, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 1) ++sent;
      }
    }
  });

  syscall_probe probe;
  REQUIRE_MESSAGE(probe.ok(), probe.why());
  window w;
  s.block_on(spin_armed(probe, sink, go, n, w));
  go.store(3);  // the sender stops waiting, whatever happened
  sender.join();
  ::close(fd);
  MESSAGE(std::string(mode_text(mode)), ": ", sink.udp, " of ", sent.load(), " datagrams read (the last ", n,
          " armed); first syscall idle ", w.idle_first, ", while receiving ", w.receive_first, "; XdpRxWakeups ",
          dev->xdp_stats().rx_wakeups);
  CHECK(sent.load() == int{2 * n});
  CHECK(sink.udp == 2 * n);
  CHECK(w.idle_first == -1);
  CHECK(w.receive_first == -1);
  CHECK(dev->xdp_stats().rx_wakeups == 0);
  CHECK(dev->xdp_stats().poll_wakeups == 0);

  // A frame sent: copy mode always asks for the TX kick, which goes out as
  // an SQE in io_uring_enter - the first syscall, and a real one. (One send
  // unarmed first, for the sanitizer build's first-use checks.)
  auto send_arp = [&](bool armed) {
    auto buf = dev->tx_buffer();
    REQUIRE(!buf.empty());
    const std::size_t len = write_arp_request(buf, dev->mac());
    const std::uint64_t kicks = dev->xdp_stats().tx_wakeups;
    if (armed) probe.arm();
    dev->tx_commit(len);
    dev->flush();
    probe.disarm();
    CHECK(dev->xdp_stats().tx_wakeups == kicks + 1);
  };
  send_arp(false);
  send_arp(true);
  CHECK(probe.first() == SYS_io_uring_enter);
}

namespace {

constexpr std::uint16_t echo_port = 7100;

// The kernel's TCP on the far side: accepts one connection on 198.18.8.1 and
// echoes it until EOF, an error, or 10 s without a byte.
class kernel_echo {
 public:
  kernel_echo() {
    in_netns enter(ns_kn);
    REQUIRE(enter.entered);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    const int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const sockaddr_in a = sockaddr_of(ip_kernel, echo_port);
    REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 1) == 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~kernel_echo() {
    thread_.join();
    ::close(fd_);
  }
  kernel_echo(const kernel_echo&) = delete;
  kernel_echo& operator=(const kernel_echo&) = delete;
  std::size_t echoed() const { return echoed_.load(); }
  bool done() const { return done_.load(); }

 private:
  void serve() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) {
      done_ = true;
      return;
    }
    const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      done_ = true;
      return;
    }
    const timeval tv{10, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[512];
    for (;;) {
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      if (::send(c, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
      echoed_ += static_cast<std::size_t>(n);
    }
    ::close(c);
    done_ = true;
  }
  int fd_ = -1;
  std::atomic<bool> done_{false};
  std::atomic<std::size_t> echoed_{0};
  std::thread thread_;
};

struct idle_result {
  std::string error;             // what went wrong before the armed windows
  int exchanged = 0;             // 64-byte messages echoed back whole
  long idle_first = -2;          // the probe's answer after 20 ms idle
  std::uint64_t idle_segs = 0;   // segments coronet sent in that window
  long keepalive_first = -2;     // ... after 30 ms with keepalive probes due
  std::uint64_t keepalive_segs = 0;
};

// Three 64-byte exchanges and 250 ms to settle (the kernel's delayed ACK,
// coronet's quick ACKs), unarmed; then armed: 20 ms idle. Then keepalive on
// (tcp_keepalive_time and _intvl 5 ms): 30 ms unarmed for the first probes,
// so the path has run once, and 30 ms armed.
rt::task<> exchange_then_idle(net::stack& st, syscall_probe& probe, idle_result& r) {
  const coronet::ipv4_addr kernel = *coronet::ipv4_addr::parse("198.18.8.1");
  auto c = co_await st.connect({kernel, echo_port});
  if (!c) {
    r.error = "connect: " + c.error().message();
    co_return;
  }
  net::stream s = std::move(*c);
  std::array<std::uint8_t, 64> msg{}, back{};
  for (int i = 0; i < 3; ++i) {
    msg.fill(static_cast<std::uint8_t>('a' + i));
    auto w = co_await s.write(msg);
    if (!w) {
      r.error = "write: " + w.error().message();
      co_return;
    }
    std::size_t got = 0;
    while (got < back.size()) {
      auto n = co_await s.read(coronet::mut_bytes(back).subspan(got));
      if (!n || *n == 0) {
        r.error = "read: " + (n ? std::string("end of stream") : n.error().message());
        co_return;
      }
      got += *n;
    }
    if (back != msg) {
      r.error = "the echo differs from the message";
      co_return;
    }
    ++r.exchanged;
  }
  co_await rt::sleep_for(250ms);

  const auto sent = [&st] { return st.stats()[coronet::counter::tcp_out_segs]; };
  std::uint64_t before = sent();
  probe.arm();
  co_await rt::sleep_for(20ms);
  r.idle_first = probe.first();
  probe.disarm();
  r.idle_segs = sent() - before;

  s.set_keepalive(true);
  co_await rt::sleep_for(30ms);
  before = sent();
  probe.arm();
  co_await rt::sleep_for(30ms);
  r.keepalive_first = probe.first();
  probe.disarm();
  r.keepalive_segs = sent() - before;
  s.close();
}

}  // namespace

TEST_CASE("af_xdp busy-polled net::stack: connection to the kernel idle 20 ms -> no system call; keepalive -> its kick") {
  SKIP_UNLESS_ROOT();
  const io::xdp_mode mode = each_xdp_mode();
  lab l;
  REQUIRE_MESSAGE(l.ok, "lab.sh: " << l.error);
  rt::scheduler s({.busy_poll = true});
  std::optional<io::af_xdp> dev;
  open_in_lab(dev, s.ring(), config(mode, true));
  INFO(dev->describe());
  kernel_knows_coronet(dev->mac());  // permanent: the kernel sends coronet no ARP while it is armed

  net::stack_config cfg;
  cfg.ifname = if_co;
  cfg.backend = "af_xdp";
  cfg.addr = coronet_ip;
  cfg.prefix_len = 24;
  // Keepalive probes every 5 ms once on. The kernel answers such probes (old
  // sequence numbers) at most once per tcp_invalid_ratelimit (500 ms), so
  // most go unanswered: with Linux's 9 probes the connection would be given
  // up (and reset) inside the window.
  cfg.tcp.tcp_keepalive_time = 5ms;
  cfg.tcp.tcp_keepalive_intvl = 5ms;
  cfg.tcp.tcp_keepalive_probes = 1000;
  net::stack st(s, cfg, *dev);
  kernel_echo echo;

  syscall_probe probe;
  REQUIRE_MESSAGE(probe.ok(), probe.why());
  idle_result r;
  s.block_on(exchange_then_idle(st, probe, r));
  MESSAGE(std::string(mode_text(mode)), ": ", r.exchanged, " exchanges; idle: first syscall ", r.idle_first, ", ",
          r.idle_segs, " segments sent; keepalive: first syscall ", r.keepalive_first, ", ", r.keepalive_segs,
          " segments sent");
  REQUIRE_MESSAGE(r.error.empty(), r.error);
  CHECK(r.exchanged == 3);
  CHECK(r.idle_segs == 0);
  CHECK(r.idle_first == -1);
  // Keepalive probes leave every 5 ms: each needs the TX kick, io_uring_enter.
  CHECK(r.keepalive_segs >= 1);
  CHECK(r.keepalive_first == SYS_io_uring_enter);
  // The close's FIN reaches the kernel's side, which ends (5 s at most).
  CHECK(run_until(s, [&] { return echo.done(); }, 5s));
  CHECK(echo.echoed() == 3 * 64);
}
