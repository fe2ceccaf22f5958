// tests/net/stack_test.cpp - net::stack, listener and stream end to end: two
// stacks in one process joined by io::memory_device, driven by one scheduler.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <stop_token>
#include <vector>

#include "io/memory_link.hpp"
#include "net/stack.hpp"
#include "net_pair.hpp"
#include "proto/wire/tcp.hpp"
#include "runtime/cancel.hpp"
#include "runtime/modes.hpp"
#include "runtime/timer.hpp"

using namespace coronet;
using namespace coronet::net;
using namespace coronet::net::test;

namespace {

// Reads until the end of the stream or `want` bytes; returns what came.
rt::task<std::vector<std::uint8_t>> read_all(stream& s, std::size_t want) {
  std::vector<std::uint8_t> got;
  std::array<std::uint8_t, 4096> buf{};
  while (got.size() < want) {
    net::result<std::size_t> n = co_await s.read(buf);
    if (!n || *n == 0) break;
    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
  }
  co_return got;
}

// Echoes every byte until the peer's FIN, then closes.
rt::task<> echo(stream s, bool& finished) {
  std::array<std::uint8_t, 2048> buf{};
  for (;;) {
    net::result<std::size_t> n = co_await s.read(buf);
    if (!n || *n == 0) break;
    net::result<std::size_t> w = co_await s.write(bytes{buf.data(), *n});
    if (!w) break;
  }
  s.close();
  finished = true;
}

std::vector<std::uint8_t> pattern(std::size_t n, std::uint32_t seed) {
  std::vector<std::uint8_t> v(n);
  std::uint32_t x = seed;
  for (auto& b : v) {
    x = x * 1664525u + 1013904223u;  // any repeatable sequence will do
    b = static_cast<std::uint8_t>(x >> 24);
  }
  return v;
}

}  // namespace

TEST_CASE("LISTEN: connect -> connect() and accept() resume with ESTABLISHED streams") {
  net_pair p(fast_settings(), rt::test::each_mode());  // sleeping and busy-poll
  listener l = p.server.listen(7).value();
  p.run([](net_pair& p, listener& l) -> rt::task<> {
    connected c = co_await connect_pair(p, l);
    conn_info ci = c.client.info(), si = c.server.info();
    CHECK(ci.state == tcp_state::established);
    CHECK(si.state == tcp_state::established);
    CHECK(c.client.remote() == endpoint{server_ip, 7});
    CHECK(c.client.local().addr == client_ip);
    CHECK(c.server.remote() == c.client.local());
    CHECK(c.server.local() == c.client.remote());
  }(p, l));
  CHECK(p.server.stats()[counter::tcp_passive_opens] == 1);
  CHECK(p.client.stats()[counter::tcp_active_opens] == 1);
}

TEST_CASE("ESTABLISHED: 1 MiB each way through a 16 KiB send buffer -> echoed byte for byte") {
  net_pair p(fast_settings(), rt::test::each_mode());  // sleeping and busy-poll
  listener l = p.server.listen(7).value();
  p.run(
      [](net_pair& p, listener& l) -> rt::task<> {
        connected c = co_await connect_pair(p, l);
        bool echo_done = false;
        p.sched.spawn(echo(std::move(c.server), echo_done));

        const auto data = pattern(1 << 20, 7);
        std::vector<std::uint8_t> back;
        auto reader = [](stream& s, std::size_t n, std::vector<std::uint8_t>& out, bool& done) -> rt::task<> {
          out = co_await read_all(s, n);
          done = true;
        };
        bool read_done = false;
        p.sched.spawn(reader(c.client, data.size(), back, read_done));
        net::result<std::size_t> w = co_await c.client.write(bytes{data});
        REQUIRE(w.has_value());
        CHECK(*w == data.size());
        while (!read_done) co_await rt::sleep_for(std::chrono::milliseconds(1));
        REQUIRE(back.size() == data.size());
        CHECK(back == data);

        // Our FIN ends the echo loop, whose close brings the server's FIN back.
        c.client.shutdown();
        std::array<std::uint8_t, 16> tail{};
        net::result<std::size_t> eof = co_await c.client.read(tail);
        REQUIRE(eof.has_value());
        CHECK(*eof == 0);
        while (!echo_done) co_await rt::yield();
      }(p, l),
      std::chrono::seconds(60));
}

TEST_CASE("CLOSED port: connect -> connection_refused") {
  net_pair p;
  p.run([](net_pair& p) -> rt::task<> {
    net::result<stream> c = co_await p.client.connect({server_ip, 9});
    REQUIRE_FALSE(c.has_value());
    CHECK(c.error() == std::errc::connection_refused);
  }(p));
}

TEST_CASE("SYN-SENT: every SYN lost, tcp_syn_retries=1 -> timed_out") {
  settings s = fast_settings();
  s.tcp_syn_retries = 1;
  net_pair p(s);
  listener l = p.server.listen(7).value();
  p.lossy.drop_tx = [](bytes f) { return io::memory_link::is_tcp(f, wire::tcp_flag::syn); };
  p.run([](net_pair& p) -> rt::task<> {
    net::result<stream> c = co_await p.client.connect({server_ip, 7});
    REQUIRE_FALSE(c.has_value());
    CHECK(c.error() == std::errc::timed_out);
  }(p));
  CHECK(p.lossy.dropped == 2);  // the SYN and one retransmission
}

TEST_CASE("SYN-SENT: no ARP answer for the peer -> host_unreachable") {
  net_pair p;
  p.run([](net_pair& p) -> rt::task<> {
    net::result<stream> c = co_await p.client.connect({absent_ip, 7});
    REQUIRE_FALSE(c.has_value());
    CHECK(c.error() == std::errc::host_unreachable);
  }(p));
}

TEST_CASE("connect: off the subnet with no gateway -> network_unreachable") {
  net_pair p;
  p.run([](net_pair& p) -> rt::task<> {
    net::result<stream> c = co_await p.client.connect({make_ipv4(198, 19, 0, 1), 7});
    REQUIRE_FALSE(c.has_value());
    CHECK(c.error() == std::errc::network_unreachable);
  }(p));
}

TEST_CASE("LISTEN: accept() under a stop token, stop requested -> operation_canceled") {
  net_pair p;
  listener l = p.server.listen(7).value();
  p.run([](net_pair& p, listener& l) -> rt::task<> {
    std::stop_source src;
    std::optional<net::result<stream>> got;
    auto acceptor = [](listener& l, std::optional<net::result<stream>>& out) -> rt::task<> {
      out.emplace(co_await l.accept());
    };
    p.sched.spawn(acceptor(l, got), src.get_token());
    co_await rt::sleep_for(std::chrono::milliseconds(2));
    CHECK_FALSE(got.has_value());  // still waiting: nobody connected
    src.request_stop();
    CHECK_FALSE(got.has_value());  // resumed through the scheduler, never inline
    while (!got) co_await rt::yield();
    REQUIRE_FALSE(got->has_value());
    CHECK(got->error() == std::errc::operation_canceled);
  }(p, l));
}

TEST_CASE("SYN-SENT: connect() cancelled -> operation_canceled, the attempt is aborted") {
  settings s = fast_settings();
  s.tcp_syn_retries = 6;
  net_pair p(s);
  p.lossy.drop_tx = [](bytes f) { return io::memory_link::is_tcp(f, wire::tcp_flag::syn); };
  p.run([](net_pair& p) -> rt::task<> {
    auto r = co_await rt::with_timeout(p.client.connect({server_ip, 7}), std::chrono::milliseconds(30));
    CHECK_FALSE(r.has_value());
  }(p));
}

TEST_CASE("ESTABLISHED: read() with nothing to read inside with_timeout -> nullopt") {
  net_pair p;
  listener l = p.server.listen(7).value();
  p.run([](net_pair& p, listener& l) -> rt::task<> {
    connected c = co_await connect_pair(p, l);
    std::array<std::uint8_t, 64> buf{};
    std::optional<net::result<std::size_t>> r =
        co_await rt::with_timeout(c.client.read(buf), std::chrono::milliseconds(20));
    CHECK_FALSE(r.has_value());
    // The stream still works afterwards.
    REQUIRE(co_await c.server.write(std::string_view("late\n")));
    net::result<std::size_t> n = co_await c.client.read(buf);
    REQUIRE(n.has_value());
    CHECK(*n == 5);
  }(p, l));
}

TEST_CASE("ESTABLISHED: a write's segment leaves as the write returns when busy-polling, after the batch when sleeping") {
  for (bool busy : {true, false}) {
    CAPTURE(busy);
    net_pair p(fast_settings(), rt::options{.busy_poll = busy});
    listener l = p.server.listen(7).value();
    p.run([](net_pair& p, listener& l, bool busy) -> rt::task<> {
      connected c = co_await connect_pair(p, l);
      for (int i = 0; i < 10; ++i) co_await rt::yield();  // the handshake's last frames delivered
      REQUIRE_FALSE(p.link.b.rx_ready());
      const std::array<std::uint8_t, 64> msg{1, 2, 3};
      net::result<std::size_t> w = co_await c.client.write(bytes{msg});  // room in the buffer: no suspension
      REQUIRE(w.has_value());
      // Flushed frames are what the memory link makes visible to the far end.
      CHECK(p.link.b.rx_ready() == busy);
      std::array<std::uint8_t, 64> back{};
      net::result<std::size_t> n = co_await c.server.read(back);
      REQUIRE(n.has_value());
      CHECK(*n == msg.size());
      CHECK(back == msg);
    }(p, l, busy));
  }
}

TEST_CASE("ESTABLISHED: close() -> the peer's read() returns 0") {
  net_pair p;
  listener l = p.server.listen(7).value();
  p.run([](net_pair& p, listener& l) -> rt::task<> {
    connected c = co_await connect_pair(p, l);
    REQUIRE(co_await c.server.write(std::string_view("bye")));
    c.server.close();
    CHECK_FALSE(c.server.is_open());
    auto got = co_await read_all(c.client, 1000);
    CHECK(std::string(got.begin(), got.end()) == "bye");
    std::array<std::uint8_t, 8> buf{};
    net::result<std::size_t> n = co_await c.client.read(buf);
    REQUIRE(n.has_value());
    CHECK(*n == 0);
  }(p, l));
}

TEST_CASE("ESTABLISHED: abort() -> the peer's read() fails with connection_reset") {
  net_pair p;
  listener l = p.server.listen(7).value();
  p.run([](net_pair& p, listener& l) -> rt::task<> {
    connected c = co_await connect_pair(p, l);
    c.server.abort();
    std::array<std::uint8_t, 8> buf{};
    net::result<std::size_t> n = co_await c.client.read(buf);
    REQUIRE_FALSE(n.has_value());
    CHECK(n.error() == std::errc::connection_reset);
  }(p, l));
}

TEST_CASE("listen: the same port twice -> address_in_use") {
  net_pair p;
  net::result<listener> a = p.server.listen(7);
  REQUIRE(a.has_value());
  net::result<listener> b = p.server.listen(7);
  REQUIRE_FALSE(b.has_value());
  CHECK(b.error() == std::errc::address_in_use);
  a->close();
  CHECK(p.server.listen(7).has_value());  // free again once closed
}

TEST_CASE("LISTEN: close() with an accept() pending -> operation_canceled") {
  net_pair p;
  listener l = p.server.listen(7).value();
  p.run([](net_pair& p, listener& l) -> rt::task<> {
    std::optional<net::result<stream>> got;
    auto acceptor = [](listener& l, std::optional<net::result<stream>>& out) -> rt::task<> {
      out.emplace(co_await l.accept());
    };
    p.sched.spawn(acceptor(l, got));
    co_await rt::yield();
    co_await rt::yield();
    l.close();
    while (!got) co_await rt::yield();
    REQUIRE_FALSE(got->has_value());
    CHECK(got->error() == std::errc::operation_canceled);
  }(p, l));
}

TEST_CASE("stack: many concurrent connections each echo their own bytes") {
  net_pair p(fast_settings(), rt::test::each_mode());  // sleeping and busy-poll
  listener l = p.server.listen(7).value();
  p.run(
      [](net_pair& p, listener& l) -> rt::task<> {
        constexpr int n = 100;
        int echoes_done = 0;
        auto serve = [](net_pair& p, listener& l, int n, int& done) -> rt::task<> {
          for (int i = 0; i < n; ++i) {
            net::result<stream> s = co_await l.accept();
            if (!s) co_return;
            p.sched.spawn([](stream s, int& done) -> rt::task<> {
              bool fin = false;
              co_await echo(std::move(s), fin);
              ++done;
            }(std::move(*s), done));
          }
        };
        p.sched.spawn(serve(p, l, n, echoes_done));
        int ok = 0;
        auto client = [](net_pair& p, int i, int& ok) -> rt::task<> {
          net::result<stream> c = co_await p.client.connect({server_ip, 7});
          if (!c) co_return;
          const auto data = pattern(1000 + static_cast<std::size_t>(i) * 37, static_cast<std::uint32_t>(i));
          net::result<std::size_t> w = co_await c->write(bytes{data});
          if (!w) co_return;
          c->shutdown();
          auto back = co_await read_all(*c, data.size() + 1);
          if (back == data) ++ok;
        };
        for (int i = 0; i < n; ++i) p.sched.spawn(client(p, i, ok));
        while (echoes_done < n) co_await rt::sleep_for(std::chrono::milliseconds(1));
        while (ok < n && p.sched.live_tasks() > 0) co_await rt::sleep_for(std::chrono::milliseconds(1));
        CHECK(ok == n);
      }(p, l),
      std::chrono::seconds(60));
}

TEST_CASE("stack: destroyed while a task waits in read() -> the task's handles let go of it") {
  std::optional<net::result<std::size_t>> got;
  // The server's end is kept open past the stacks: its close would send a FIN
  // that completes the read before the stacks die.
  std::optional<stream> server_end;
  {
    net_pair p;
    listener l = p.server.listen(7).value();
    p.run([](net_pair& p, listener& l, std::optional<net::result<std::size_t>>& got,
             std::optional<stream>& server_end) -> rt::task<> {
      connected c = co_await connect_pair(p, l);
      server_end.emplace(std::move(c.server));
      auto reader = [](stream s, std::optional<net::result<std::size_t>>& out) -> rt::task<> {
        std::array<std::uint8_t, 8> buf{};
        out.emplace(co_await s.read(buf));
        // The stream outlives its stack: closing it must not touch it.
      };
      p.sched.spawn(reader(std::move(c.client), got));
      co_await rt::yield();
      co_await rt::yield();
    }(p, l, got, server_end));
    CHECK_FALSE(got.has_value());
  }  // stacks die first, then the scheduler destroys (or finishes) the reader
  CHECK(true);  // reaching here without ASan reports is the point
}
