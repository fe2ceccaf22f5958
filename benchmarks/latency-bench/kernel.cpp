// latency-bench kernel-server / kernel-ping: the kernel's TCP, the reference
// for coronet's. TCP_NODELAY on both ends (coronet's default: Nagle off), one
// connection, the same 64-byte write-then-read per sample.
//
// Sleeping: blocking send(2) and recv(2). Busy-polling (--busy-poll): recv
// with MSG_DONTWAIT in a loop, so the receiver never sleeps and the reply is
// picked up as soon as softirq has queued it (the sends stay blocking: 64
// bytes always fit the send buffer).
//
// SIGINT, SIGTERM and, for --max-seconds, SIGALRM set a flag (and which
// signal it was: SIGALRM is the time limit); the handlers are installed
// without SA_RESTART so a blocking call returns EINTR and the loop ends.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "latency.hpp"
#include "runtime/clock.hpp"

namespace coronet::latency {

namespace {

volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_signal = 0;  // the first signal that set g_stop

void on_signal(int signo) {
  if (!g_stop) g_signal = signo;
  g_stop = 1;
}

// After g_stop: the time limit (SIGALRM) or a signal from outside.
void record_stopped(sampler& smp) {
  if (g_signal == SIGALRM) {
    smp.stop(stop_reason::time_limit);
  } else {
    smp.stop(stop_reason::signal, signal_name(g_signal));
  }
}

void install_handlers(double limit_seconds) {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking calls return EINTR
  for (int s : {SIGINT, SIGTERM, SIGALRM}) ::sigaction(s, &sa, nullptr);
  if (limit_seconds > 0) ::alarm(static_cast<unsigned>(std::ceil(limit_seconds)));
}

sockaddr_in to_sockaddr(endpoint ep) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(ep.port);
  sa.sin_addr.s_addr = htonl(ep.addr.value);
  return sa;
}

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// One recv: blocking, or spinning with MSG_DONTWAIT. >0 bytes, 0 at the end
// of the stream, -1 when stopped (g_stop) or on an error (errno says which).
ssize_t receive(int fd, void* buf, std::size_t len, bool busy) {
  for (;;) {
    ssize_t n = ::recv(fd, buf, len, busy ? MSG_DONTWAIT : 0);
    if (n >= 0) return n;
    if (g_stop) return -1;
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
    return -1;
  }
}

bool send_all(int fd, const std::uint8_t* p, std::size_t len) {
  while (len > 0) {
    ssize_t n = ::send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR && !g_stop) continue;
      return false;
    }
    p += n;
    len -= static_cast<std::size_t>(n);
  }
  return true;
}

std::uint64_t echo_connection(int c, bool busy) {
  set_nodelay(c);
  std::array<std::uint8_t, 4096> buf{};
  std::uint64_t echoed = 0;
  for (;;) {
    ssize_t n = receive(c, buf.data(), buf.size(), busy);
    if (n <= 0 || !send_all(c, buf.data(), static_cast<std::size_t>(n))) break;
    echoed += static_cast<std::uint64_t>(n);
  }
  ::close(c);
  return echoed;
}

}  // namespace

int kernel_server(const options& o) {
  install_handlers(run_limit_seconds(o));
  sockaddr_in sa = to_sockaddr(*o.to);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  if (fd >= 0) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 16) != 0) {
    std::fprintf(stderr, "latency-bench kernel-server: listen %s: %s\n", o.to->to_string().c_str(),
                 std::strerror(errno));
    return exit_failed;
  }
  std::printf("kernel-server: ready on %s, %s\n", o.to->to_string().c_str(), o.busy_poll ? "busy-polling" : "sleeping");
  std::fflush(stdout);
  std::uint64_t connections = 0, echoed = 0;
  while (!g_stop) {
    int c = ::accept(fd, nullptr, nullptr);
    if (c < 0) continue;  // EINTR: the flag decides
    ++connections;
    echoed += echo_connection(c, o.busy_poll);
  }
  ::close(fd);
  std::printf("kernel-server: %llu connections, %llu bytes echoed\n", static_cast<unsigned long long>(connections),
              static_cast<unsigned long long>(echoed));
  return exit_ok;
}

int kernel_ping(const options& o) {
  sampler smp(o);
  install_handlers(run_limit_seconds(o));
  sockaddr_in sa = to_sockaddr(*o.to);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    std::fprintf(stderr, "latency-bench kernel-ping: connect %s: %s\n", o.to->to_string().c_str(),
                 std::strerror(errno));
    return exit_failed;
  }
  set_nodelay(fd);
  std::array<std::uint8_t, message_len> msg{}, back{};
  std::uint64_t seq = 0;
  int status = exit_ok;
  for (;;) {
    if (g_stop) {
      record_stopped(smp);
      break;
    }
    if (const time_point now = rt::steady_now(); smp.done(now)) {
      smp.stop_done(now);
      break;
    }
    ++seq;
    std::memcpy(msg.data(), &seq, sizeof seq);
    const time_point t0 = rt::steady_now();
    if (!send_all(fd, msg.data(), msg.size())) {
      const int err = errno;  // before anything else can change it
      if (g_stop) {
        record_stopped(smp);
      } else {
        smp.stop(stop_reason::error, std::string("send failed: ") + std::strerror(err));
      }
      break;
    }
    std::size_t got = 0;
    ssize_t n = 1;
    while (got < back.size()) {
      n = receive(fd, back.data() + got, back.size() - got, o.busy_poll);
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    if (got < back.size()) {
      const int err = errno;  // meaningful only when recv failed (n < 0): 0 is the end of the stream
      if (n == 0) {
        smp.stop(stop_reason::peer_closed);
      } else if (g_stop) {
        record_stopped(smp);
      } else {
        smp.stop(stop_reason::error, std::string("recv failed: ") + std::strerror(err));
      }
      break;
    }
    const time_point t1 = rt::steady_now();
    if (back != msg) {
      std::fprintf(stderr, "latency-bench kernel-ping: the echo differs from message %llu\n",
                   static_cast<unsigned long long>(seq));
      status = exit_failed;
      break;
    }
    smp.add(t1 - t0, t1);
  }
  ::close(fd);
  if (status != exit_ok) return status;
  return smp.report("kernel", "");
}

}  // namespace coronet::latency
