// tests/io/af_xdp_no_syscall_test.cpp - busy-polled, the AF_XDP device reads
// its rings directly: idle, and while frames arrive with nothing to send, the
// loop's thread makes no system call (tests/syscall_probe.hpp catches the
// first one). In copy mode the kernel never asks for a fill-ring kick; a frame
// sent does need its TX kick, an IORING_OP_SEND submitted by io_uring_enter,
// and the probe sees that one. Needs root (the lab, XDP).
#include <doctest/doctest.h>

#include "af_xdp_lab.hpp"
#include "syscall_probe.hpp"

#include <sys/syscall.h>

#include <atomic>
#include <thread>

using namespace coronet::test::axd;
using coronet::test::syscall_probe;

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
