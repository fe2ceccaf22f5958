// handshake-bench - times TCP three-way handshakes, one connection after
// another, with the kernel's TCP or with coronet, so the two can be compared
// on the same veth pair in the same run (benchmarks/handshake.sh does that).
//
//   handshake-bench kernel  --to IP:PORT [--count N]
//   handshake-bench coronet --iface IF --addr IP/PREFIX --to IP:PORT [--count N] [--busy-poll]
//                           [--backend af_packet|af_xdp] [--xdp-mode M] [--xdp-bind B] [--queue N]
//   handshake-bench server  --listen IP:PORT
//
// `server` is the kernel's side for both: a blocking accept loop that closes
// each connection at once, with a listen backlog of 4096 (a forking server
// such as socat's, backlog 5, drops SYNs and turns samples into 1 s SYN
// retransmissions).
//
// A sample is the time from the start of connect() until it returns with the
// connection established (kernel: blocking connect(2); coronet: from calling
// stack::connect until the coroutine resumes). Each connection is then closed
// (coronet: graceful close; kernel: close(2)) before the next one starts.
// Prints min/p50/p90/p99/max in µs and the connection rate; coronet mode
// first prints the device it opened on stderr.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "net/device_flags.hpp"
#include "net/stack.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/task.hpp"

namespace {

using namespace coronet;
using clk = std::chrono::steady_clock;

[[noreturn]] void usage(const char* why) {
  if (why) std::fprintf(stderr, "handshake-bench: %s\n", why);
  std::fprintf(stderr,
               "usage: handshake-bench kernel  --to IP:PORT [--count N]\n"
               "       handshake-bench coronet --iface IF --addr IP/PREFIX --to IP:PORT [--count N] "
               "[--busy-poll] [device flags]\n"
               "       handshake-bench server  --listen IP:PORT\n"
               "device flags (coronet):\n%s",
               std::string(net::device_flags_usage).c_str());
  std::exit(2);
}

struct options {
  std::string mode, iface;
  std::optional<endpoint> to;
  std::optional<ipv4_addr> addr;
  int prefix = 24;
  int count = 200;
  bool busy_poll = false;
  net::stack_config device;  // coronet: --backend, --xdp-mode, --xdp-bind, --queue
};

options parse(int argc, char** argv) {
  options o;
  if (argc < 2) usage("missing mode (kernel or coronet)");
  o.mode = argv[1];
  if (o.mode == "--help" || o.mode == "-h") usage(nullptr);
  if (o.mode != "kernel" && o.mode != "coronet" && o.mode != "server")
    usage(("unknown mode '" + o.mode + "'").c_str());
  for (int i = 2; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) usage(("flag " + std::string(a) + " needs a value").c_str());
      return argv[++i];
    };
    if (a == "--to" || a == "--listen") {
      o.to = endpoint::parse(value());
      if (!o.to) usage((std::string(a) + " takes IP:PORT").c_str());
    } else if (a == "--iface") {
      o.iface = value();
    } else if (a == "--addr") {
      auto v = value();
      auto slash = v.find('/');
      o.addr = ipv4_addr::parse(v.substr(0, slash));
      if (!o.addr || slash == std::string_view::npos) usage("--addr takes IP/PREFIX");
      o.prefix = std::atoi(std::string(v.substr(slash + 1)).c_str());
      if (o.prefix < 1 || o.prefix > 32) usage("--addr prefix must be 1..32");
    } else if (a == "--count") {
      o.count = std::atoi(std::string(value()).c_str());
      if (o.count < 1 || o.count > 20000) usage("--count takes 1..20000");
    } else if (a == "--busy-poll") {
      o.busy_poll = true;
    } else if (a.starts_with("--") && net::is_device_flag(a.substr(2))) {
      if (o.mode != "coronet") usage((std::string(a) + " belongs to coronet mode").c_str());
      if (std::string e = net::set_device_flag(o.device, a.substr(2), value()); !e.empty()) usage(e.c_str());
    } else {
      usage(("unknown flag '" + std::string(a) + "'").c_str());
    }
  }
  if (!o.to) usage(o.mode == "server" ? "--listen is required" : "--to is required");
  if (o.mode == "coronet" && (o.iface.empty() || !o.addr)) usage("coronet mode needs --iface and --addr");
  if (std::string e = net::check_device_flags(o.device); !e.empty()) usage(e.c_str());
  return o;
}

void report(const char* what, std::vector<double> us, double wall_s) {
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) { return us[std::min(us.size() - 1, static_cast<std::size_t>(p * us.size()))]; };
  std::printf("%-28s n=%zu  min %.1f  p50 %.1f  p90 %.1f  p99 %.1f  max %.1f us  (%.0f conn/s)\n", what,
              us.size(), us.front(), pct(0.5), pct(0.9), pct(0.99), us.back(), us.size() / wall_s);
}

sockaddr_in to_sockaddr(endpoint ep) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(ep.port);
  sa.sin_addr.s_addr = htonl(ep.addr.value);
  return sa;
}

// Accepts and closes connections until killed.
int run_server(const options& o) {
  sockaddr_in sa = to_sockaddr(*o.to);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 4096) != 0) {
    std::fprintf(stderr, "listen %s: %s\n", o.to->to_string().c_str(), std::strerror(errno));
    return 1;
  }
  for (;;) {
    int c = ::accept(fd, nullptr, nullptr);
    if (c >= 0) ::close(c);
  }
}

int run_kernel(const options& o) {
  sockaddr_in sa = to_sockaddr(*o.to);
  std::vector<double> us;
  auto t0 = clk::now();
  for (int i = 0; i < o.count; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) { std::perror("socket"); return 1; }
    auto a = clk::now();
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      std::fprintf(stderr, "connect %s: %s\n", o.to->to_string().c_str(), std::strerror(errno));
      ::close(fd);
      return 1;
    }
    us.push_back(std::chrono::duration<double, std::micro>(clk::now() - a).count());
    ::close(fd);
  }
  report("kernel connect()", us, std::chrono::duration<double>(clk::now() - t0).count());
  return 0;
}

rt::task<int> coronet_loop(net::stack& st, const options& o) {
  std::vector<double> us;
  auto t0 = clk::now();
  for (int i = 0; i < o.count; ++i) {
    auto a = clk::now();
    auto s = co_await st.connect(*o.to);
    if (!s) {
      std::fprintf(stderr, "connect %s: %s\n", o.to->to_string().c_str(), s.error().message().c_str());
      co_return 1;
    }
    us.push_back(std::chrono::duration<double, std::micro>(clk::now() - a).count());
    s->close();
  }
  report(o.busy_poll ? "coronet connect (busy-poll)" : "coronet connect (sleeping)", us,
         std::chrono::duration<double>(clk::now() - t0).count());
  co_return 0;
}

int run_coronet(const options& o) {
  rt::scheduler sched({.busy_poll = o.busy_poll});
  net::stack_config cfg = o.device;
  cfg.ifname = o.iface;
  cfg.addr = *o.addr;
  cfg.prefix_len = o.prefix;
  std::unique_ptr<net::stack> st;
  try {
    st = std::make_unique<net::stack>(sched, cfg);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "handshake-bench: cannot open %s on %s: %s%s\n", cfg.backend.c_str(), cfg.ifname.c_str(),
                 e.what(), net::device_privilege_hint(cfg, e.what(), geteuid() == 0).c_str());
    return 2;
  }
  std::fprintf(stderr, "handshake-bench: %s\n", st->device().describe().c_str());
  return sched.block_on(coronet_loop(*st, o));
}

}  // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  try {
    if (o.mode == "server") return run_server(o);
    return o.mode == "kernel" ? run_kernel(o) : run_coronet(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "handshake-bench: %s\n", e.what());
    return 2;
  }
}
