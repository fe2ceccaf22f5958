// inprocess-bench - coronet's own cost per 64-byte TCP round trip, with no
// kernel in the path: two net::stacks on one scheduler, joined back to back by
// an io::memory_device_pair, one echoing what the other writes. A round trip
// here is all user-space work of both ends (engine, stack, scheduler, the
// coroutines), which is the part of a real round trip coronet can shorten;
// the kernel's part is what benchmarks/latency.sh's raw floor measures.
//
//   inprocess-bench [--count N] [--size BYTES] [--sleeping] [--no-fast-paths]
//
// Busy-polls unless --sleeping; --no-fast-paths sends every segment through
// TCP's general path (to time the fast paths). Needs no privileges. Prints one line:
//   result mode=inprocess samples=N size=B us_per_rtt=X
#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "io/memory_device.hpp"
#include "net/stack.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/task.hpp"

namespace {

using namespace coronet;
using clk = std::chrono::steady_clock;

[[noreturn]] void usage(const char* why) {
  if (why != nullptr) std::fprintf(stderr, "inprocess-bench: %s\n", why);
  std::fprintf(stderr, "usage: inprocess-bench [--count N (1..100000000, default 300000)] "
                       "[--size BYTES (1..65536, default 64)] [--sleeping] [--no-fast-paths]\n");
  std::exit(2);
}

long number(std::string_view v, long lo, long hi, const char* flag) {
  long n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc{} || p != v.data() + v.size() || n < lo || n > hi) {
    std::fprintf(stderr, "inprocess-bench: %s takes %ld..%ld; got '%.*s'\n", flag, lo, hi, static_cast<int>(v.size()),
                 v.data());
    std::exit(2);
  }
  return n;
}

net::stack_config config(ipv4_addr a) {
  net::stack_config c;
  c.ifname = "memory";
  c.backend = "memory";
  c.addr = a;
  c.prefix_len = 24;
  c.seed = 1;
  return c;
}

rt::task<void> echo(net::listener& l) {
  net::result<net::stream> s = co_await l.accept();
  if (!s) co_return;
  std::vector<std::uint8_t> buf(65536);
  for (;;) {
    net::result<std::size_t> n = co_await s->read(buf);
    if (!n || *n == 0) break;
    net::result<std::size_t> w = co_await s->write({buf.data(), *n});
    if (!w) break;
  }
}

rt::task<double> client(net::stack& st, ipv4_addr server, long count, std::size_t size) {
  net::result<net::stream> c = co_await st.connect({server, 7});
  if (!c) co_return -1;
  std::vector<std::uint8_t> msg(size, 0x5a), back(size);
  constexpr long warmup = 1000;  // caches, cwnd, the ring buffers' first touch
  auto t0 = clk::now();
  // Each round trip inline in this frame: a nested task per round trip would
  // allocate its frame every time, which is the program's cost, not coronet's.
  for (long i = 0; i < warmup + count; ++i) {
    if (i == warmup) t0 = clk::now();
    net::result<std::size_t> w = co_await c->write(msg);
    if (!w) co_return -1;
    std::size_t got = 0;
    while (got < size) {
      net::result<std::size_t> r = co_await c->read(std::span(back).subspan(got, size - got));
      if (!r || *r == 0) co_return -1;
      got += *r;
    }
  }
  const double us = std::chrono::duration<double, std::micro>(clk::now() - t0).count();
  c->close();
  co_return us / static_cast<double>(count);
}

}  // namespace

int main(int argc, char** argv) {
  long count = 300000;
  std::size_t size = 64;
  bool sleeping = false;
  bool fast_paths = true;  // --no-fast-paths: TCP's general path only (engine::set_fast_paths)
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--sleeping") {
      sleeping = true;
    } else if (a == "--no-fast-paths") {
      fast_paths = false;
    } else if (a == "--count" || a == "--size") {
      if (i + 1 >= argc) usage((std::string(a) + " needs a value").c_str());
      std::string_view v = argv[++i];
      if (a == "--count") count = number(v, 1, 100000000, "--count");
      else size = static_cast<std::size_t>(number(v, 1, 65536, "--size"));
    } else if (a == "-h" || a == "--help") {
      usage(nullptr);
    } else {
      usage(("unknown argument '" + std::string(a) + "'").c_str());
    }
  }
  rt::scheduler sched({.busy_poll = !sleeping});
  io::memory_device_pair link;
  const ipv4_addr ca = make_ipv4(198, 18, 0, 1), sa = make_ipv4(198, 18, 0, 2);
  net::stack client_stack(sched, config(ca), link.a);
  net::stack server_stack(sched, config(sa), link.b);
  client_stack.engine().set_fast_paths(fast_paths);
  server_stack.engine().set_fast_paths(fast_paths);
  net::listener l = server_stack.listen(7).value();
  sched.spawn(echo(l));
  const double us = sched.block_on(client(client_stack, sa, count, size));
  if (us < 0) {
    std::fprintf(stderr, "inprocess-bench: the connection failed\n");
    return 1;
  }
  std::printf("result mode=inprocess wait=%s samples=%ld size=%zu us_per_rtt=%.3f\n", sleeping ? "sleep" : "busy", count,
              size, us);
  return 0;
}
