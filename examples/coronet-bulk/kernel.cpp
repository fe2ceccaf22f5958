// coronet-bulk --stack kernel: the kernel's TCP through one non-blocking
// socket per connection and a poll(2) loop, so sending and receiving proceed
// together on one thread (full duplex) and every wait is bounded by --timeout.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <linux/tcp.h>  // struct tcp_info with tcpi_bytes_acked (glibc's is older)
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <iostream>
#include <thread>
#include <utility>
#include <vector>

#include "app.hpp"
#include "runtime/clock.hpp"
#include "status.hpp"
#include "transfer.hpp"

namespace coronet::bulk {

namespace {

using namespace std::chrono_literals;

std::error_code last_error() { return {errno, std::generic_category()}; }

// Owns a descriptor.
class fd_guard {
 public:
  explicit fd_guard(int fd = -1) : fd_(fd) {}
  ~fd_guard() { reset(); }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

sockaddr_in to_sockaddr(endpoint ep) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(ep.port);
  sa.sin_addr.s_addr = htonl(ep.addr.value);
  return sa;
}

std::string peer_name(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) return "?";
  return endpoint{ipv4_addr{ntohl(sa.sin_addr.s_addr)}, ntohs(sa.sin_port)}.to_string();
}

bool set_int(int fd, int level, int name, int value) {
  return ::setsockopt(fd, level, name, &value, sizeof value) == 0;
}

// A socket with the options that must be set before listen/connect: the
// receive buffer decides the window scale offered in the SYN (tcp_select_initial_window).
int make_socket(const options& o) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  bool ok = true;
  if (o.rcvbuf) ok = ok && set_int(fd, SOL_SOCKET, SO_RCVBUF, *o.rcvbuf);
  if (o.sndbuf) ok = ok && set_int(fd, SOL_SOCKET, SO_SNDBUF, *o.sndbuf);
  if (o.nodelay) ok = ok && set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  if (!ok) {
    const int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

int poll_ms(const options& o, time_point last, time_point now) {
  if (o.timeout_s == 0) return 1000;
  auto left = last + std::chrono::seconds(o.timeout_s) - now;
  const std::int64_t ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::clamp<std::int64_t>(ms, 0, 1000));
}

bool idle_too_long(const options& o, time_point last, time_point now) {
  return o.timeout_s > 0 && now - last >= std::chrono::seconds(o.timeout_s);
}

// Waits (bounded) for one event on fd; false when --timeout ran out.
bool wait_for(const options& o, int fd, short events, time_point since) {
  for (;;) {
    time_point now = rt::steady_now();
    if (idle_too_long(o, since, now)) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, poll_ms(o, since, now));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return true;  // let the caller's syscall report it
  }
}

tcp_info get_tcp_info(int fd) {
  tcp_info ti{};
  socklen_t len = sizeof ti;
  ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len);
  return ti;
}

// tcpi_state values: Linux's include/net/tcp_states.h (not in the uapi headers).
enum : std::uint8_t {
  tcp_established = 1, tcp_fin_wait1 = 4, tcp_close_wait = 8, tcp_last_ack = 9, tcp_closing = 11,
};

// Our FIN is still unacknowledged (or not even sent) in these states.
bool fin_pending(std::uint8_t state) {
  return state == tcp_established || state == tcp_close_wait || state == tcp_fin_wait1 || state == tcp_closing ||
         state == tcp_last_ack;
}

void print_tcp_info(int fd) {
  tcp_info ti = get_tcp_info(fd);
  std::cout << "tcp_info: state=" << int(ti.tcpi_state) << " rtt_us=" << ti.tcpi_rtt << " rttvar_us=" << ti.tcpi_rttvar
            << " snd_mss=" << ti.tcpi_snd_mss << " rcv_mss=" << ti.tcpi_rcv_mss
            << " snd_wscale=" << int(ti.tcpi_snd_wscale) << " rcv_wscale=" << int(ti.tcpi_rcv_wscale)
            << " snd_cwnd=" << ti.tcpi_snd_cwnd << " total_retrans=" << ti.tcpi_total_retrans
            << " bytes_acked=" << ti.tcpi_bytes_acked << " bytes_received=" << ti.tcpi_bytes_received
            << " rcv_space=" << ti.tcpi_rcv_space << '\n';
}

// RST instead of FIN: SO_LINGER {1, 0} makes close(2) abort (tcp_disconnect).
void abort_connection(fd_guard& fd) {
  linger l{1, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  fd.reset();
}

class connection {
 public:
  connection(const options& o, int fd) : o_(o), fd_(fd), x_(o, rt::steady_now()) {}

  // Moves the data both ways until both directions are done, or an error.
  int run() {
    const std::string peer = peer_name(fd_.get());
    step_all();
    if (!x_.error() && !x_.reset_sent() && !x_.mismatch_at()) await_fin_acked();
    if (o_.stats && fd_.get() >= 0) print_tcp_info(fd_.get());
    x_.print(std::cout, peer, rt::steady_now());
    std::cout.flush();
    if (x_.error())
      std::cerr << "coronet-bulk: connection with " << peer << ": " << describe(x_.error()) << " after sending "
                << x_.sent() << " and receiving " << x_.received() << " bytes\n";
    if (x_.mismatch_at())
      std::cerr << "coronet-bulk: received data differs from --verify-seed's stream at byte " << *x_.mismatch_at()
                << '\n';
    return x_.status();
  }

 private:
  void step_all() {
    std::vector<std::uint8_t> in(kernel_chunk);
    while (!(send_done_ && eof_)) {
      time_point now = rt::steady_now();
      if (idle_too_long(o_, x_.last_progress(), now)) return x_.fail(make_error_code(std::errc::timed_out));
      pollfd p{fd_.get(), static_cast<short>((send_done_ ? 0 : POLLOUT) | (eof_ ? 0 : POLLIN)), 0};
      int n = ::poll(&p, 1, poll_ms(o_, x_.last_progress(), now));
      if (n < 0 && errno != EINTR) return x_.fail(last_error());
      if (n <= 0) continue;
      if (!eof_ && (p.revents & (POLLIN | POLLERR | POLLHUP)) && !read_some(in)) return;
      if (!send_done_ && (p.revents & (POLLOUT | POLLERR | POLLHUP)) && !write_some()) return;
    }
  }

  // false: the connection ended (error, reset sent, mismatch).
  bool read_some(std::vector<std::uint8_t>& in) {
    // A slow reader takes one read per wake-up; otherwise drain what is there.
    for (int reads = 0; reads < 64; ++reads) {
      ssize_t n = ::recv(fd_.get(), in.data(), in.size(), 0);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return true;
        x_.fail(last_error());
        return false;
      }
      const time_point now = rt::steady_now();
      if (n == 0) {
        eof_ = true;
        x_.on_eof(now);
        return true;
      }
      if (!x_.on_received(bytes{in.data(), static_cast<std::size_t>(n)}, now)) return false;
      if (x_.reset_due()) return reset();
      if (x_.take_stall()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(o_.stall_ms));
        x_.progress(rt::steady_now());
        return true;
      }
      if (o_.read_delay_us > 0) {
        std::this_thread::sleep_for(std::chrono::microseconds(o_.read_delay_us));
        return true;
      }
    }
    return true;
  }

  bool write_some() {
    for (;;) {
      if (off_ == chunk_.size()) {
        if (x_.reset_due()) return reset();
        chunk_ = x_.next_chunk(kernel_chunk);
        off_ = 0;
        if (chunk_.empty()) {
          // RFC 9293 3.6: a half-close; reading continues until the peer's FIN.
          if (::shutdown(fd_.get(), SHUT_WR) != 0) {
            x_.fail(last_error());
            return false;
          }
          send_done_ = true;
          return true;
        }
      }
      ssize_t n = ::send(fd_.get(), chunk_.data() + off_, chunk_.size() - off_, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return true;
        x_.fail(last_error());
        return false;
      }
      x_.on_sent(chunk_.subspan(off_, static_cast<std::size_t>(n)), rt::steady_now());
      off_ += static_cast<std::size_t>(n);
    }
  }

  bool reset() {
    abort_connection(fd_);
    x_.mark_reset_sent();
    return false;
  }

  // Every byte we sent arrived once the peer acknowledged our FIN
  // (FIN-WAIT-2, TIME-WAIT or CLOSED). Polled: the kernel has no event for it.
  void await_fin_acked() {
    std::uint64_t acked = 0;
    for (;;) {
      tcp_info ti = get_tcp_info(fd_.get());
      const time_point now = rt::steady_now();
      if (!fin_pending(ti.tcpi_state)) break;
      if (ti.tcpi_bytes_acked != acked) {
        acked = ti.tcpi_bytes_acked;
        x_.progress(now);
      }
      if (idle_too_long(o_, x_.last_progress(), now)) return x_.fail(make_error_code(std::errc::timed_out));
      std::this_thread::sleep_for(100us);
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return x_.fail({err, std::generic_category()});
    x_.on_send_done(rt::steady_now());
  }

  const options& o_;
  fd_guard fd_;
  transfer x_;
  bytes chunk_;
  std::size_t off_ = 0;
  bool send_done_ = false, eof_ = false;
};

int serve(const options& o) {
  fd_guard l(make_socket(o));
  sockaddr_in sa = to_sockaddr({ipv4_addr{0}, *o.listen_port});
  if (l.get() < 0 || !set_int(l.get(), SOL_SOCKET, SO_REUSEADDR, 1) ||
      ::bind(l.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(l.get(), 16) != 0) {
    std::cerr << "coronet-bulk: cannot listen on port " << *o.listen_port << ": " << last_error().message() << '\n';
    return exit_failed;
  }
  int status = exit_ok;
  for (int i = 0; i < o.count; ++i) {
    if (!wait_for(o, l.get(), POLLIN, rt::steady_now())) {
      std::cerr << "coronet-bulk: timed out: no connection within " << o.timeout_s << " s\n";
      return status != exit_ok ? status : exit_timed_out;
    }
    int c = ::accept4(l.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) {
      std::cerr << "coronet-bulk: accept: " << last_error().message() << '\n';
      return exit_failed;
    }
    int s = connection(o, c).run();
    if (status == exit_ok) status = s;
  }
  return status;
}

int connect(const options& o) {
  fd_guard fd(make_socket(o));
  if (fd.get() < 0) {
    std::cerr << "coronet-bulk: socket: " << last_error().message() << '\n';
    return exit_failed;
  }
  sockaddr_in sa = to_sockaddr(*o.connect_to);
  std::error_code ec;
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    if (errno != EINPROGRESS) {
      ec = last_error();
    } else if (!wait_for(o, fd.get(), POLLOUT, rt::steady_now())) {
      ec = make_error_code(std::errc::timed_out);
    } else {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) ec = {err, std::generic_category()};
    }
  }
  if (ec) {
    std::cerr << "coronet-bulk: connect to " << o.connect_to->to_string() << ": " << describe(ec) << '\n';
    return status_for(ec);
  }
  return connection(o, fd.release()).run();
}

}  // namespace

int run_kernel(const options& o) { return o.listen_port ? serve(o) : connect(o); }

}  // namespace coronet::bulk
