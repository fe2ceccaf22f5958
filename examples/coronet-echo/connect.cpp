// coronet-echo connect: one connection, --count verified echoes, round-trip
// percentiles, an orderly close.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <vector>

#include "app.hpp"
#include "net/conn_report.hpp"
#include "runtime/cancel.hpp"
#include "runtime/timer.hpp"

namespace coronet::echo {

namespace {

using namespace std::chrono_literals;

double micros(duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

std::string us_text(double us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", us);
  return buf;
}

// Message i: --message TEXT plus '\n', or --size bytes of printable text that
// differs from message to message, ending in '\n'.
void fill_message(const options& o, int i, std::vector<std::uint8_t>& out) {
  if (o.message) {
    out.assign(o.message->begin(), o.message->end());
    out.push_back('\n');
    return;
  }
  out.resize(o.size);
  for (std::size_t j = 0; j + 1 < o.size; ++j)
    out[j] = static_cast<std::uint8_t>('!' + (static_cast<std::size_t>(i) * 7 + j) % 94);
  out[o.size - 1] = '\n';
}

// Nearest-rank percentile of sorted values.
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  std::size_t rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size()) + 0.999999);
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

struct write_job {
  net::result<std::size_t> outcome = std::size_t{0};
  bool done = false;
};
rt::task<> write_all(net::stream& s, bytes data, write_job& job) {
  job.outcome = co_await s.write(data);
  job.done = true;
}

rt::task<> until_eof(net::stream& s) {
  std::array<std::uint8_t, 4096> buf{};
  for (;;) {
    net::result<std::size_t> n = co_await s.read(buf);
    if (!n || *n == 0) co_return;
  }
}

void report_connect_error(const options& o, const net::stack& st, std::error_code ec) {
  const std::string to = o.to.to_string();
  std::cerr << "coronet-echo: ";
  if (ec == std::errc::connection_refused) {
    std::cerr << "connection refused by " << to;
  } else if (ec == std::errc::timed_out) {
    std::cerr << "connect to " << to << " timed out after " << st.config().tcp_syn_retries
              << " SYN retransmissions";
  } else if (ec == std::errc::host_unreachable || ec == std::errc::network_unreachable) {
    std::cerr << "no route/ARP failure: " << o.to.addr.to_string() << " unreachable";
  } else {
    std::cerr << "connect to " << to << " failed: " << ec.message();
  }
  std::cerr << '\n';
}

rt::task<int> client(const options& o, net::stack& st, net::handshake_steps* steps) {
  const time_point t0 = st.now();
  net::result<net::stream> c = co_await st.connect(o.to);
  const time_point t1 = st.now();
  if (!c) {
    report_connect_error(o, st, c.error());
    co_return exit_failed;
  }
  if (steps != nullptr) steps->resumed(c->local(), c->remote(), t1, "connect()");
  std::cout << "connected " << c->local().to_string() << " -> " << c->remote().to_string() << ", handshake "
            << us_text(micros(t1 - t0)) << " us\n";

  std::vector<std::uint8_t> msg, back;
  std::vector<double> rtts;
  rtts.reserve(static_cast<std::size_t>(o.count));
  std::uint64_t offset = 0;  // bytes verified so far
  int status = exit_ok;
  for (int i = 0; i < o.count && status == exit_ok; ++i) {
    fill_message(o, i, msg);
    back.resize(msg.size());
    const time_point ts = st.now();
    // Small messages fit the send buffer: write inline. Large ones are written
    // by a second task while this one reads, so neither side's window stalls.
    write_job job;
    if (msg.size() <= 8192) {
      job.outcome = co_await c->write(bytes{msg});
      job.done = true;
    } else {
      st.scheduler().spawn(write_all(*c, bytes{msg}, job));
    }
    std::size_t got = 0;
    while (got < msg.size() && status == exit_ok) {
      net::result<std::size_t> n = co_await c->read(mut_bytes{back}.subspan(got));
      if (!n) {
        std::cerr << "coronet-echo: read failed after " << offset + got << " bytes: " << n.error().message() << '\n';
        status = exit_failed;
      } else if (*n == 0) {
        std::cerr << "coronet-echo: connection closed by the peer after " << offset + got << " bytes\n";
        status = exit_failed;
      } else {
        got += *n;
      }
    }
    while (!job.done) co_await rt::yield();
    if (status != exit_ok) break;
    if (!job.outcome) {
      std::cerr << "coronet-echo: write failed: " << job.outcome.error().message() << '\n';
      status = exit_failed;
      break;
    }
    rtts.push_back(micros(st.now() - ts));
    auto [mine, theirs] = std::mismatch(msg.begin(), msg.end(), back.begin());
    if (mine != msg.end()) {
      std::cerr << "coronet-echo: echo mismatch at byte " << offset + static_cast<std::uint64_t>(mine - msg.begin())
                << '\n';
      status = exit_failed;
      break;
    }
    offset += msg.size();
  }

  if (!rtts.empty()) {
    std::vector<double> sorted = rtts;
    std::sort(sorted.begin(), sorted.end());
    std::cout << rtts.size() << " messages of " << msg.size() << " B echoed (" << offset
              << " B); rtt us: p50 " << us_text(percentile(sorted, 50)) << ", p90 " << us_text(percentile(sorted, 90))
              << ", p99 " << us_text(percentile(sorted, 99)) << ", max " << us_text(sorted.back()) << '\n';
  }

  // Orderly close: our FIN, then wait for the peer's (bounded), then release.
  c->shutdown();
  bool peer_closed = co_await rt::with_timeout(until_eof(*c), 10s);  // not inside if(): GCC 12, README
  if (!peer_closed)
    std::cerr << "coronet-echo: the peer did not close within 10 s\n";
  if (o.stats) net::print_conn_info(std::cout, c->info());
  c->close();
  // Keep the stack running so TIME-WAIT can re-ACK a retransmitted FIN.
  co_await rt::sleep_for(std::chrono::milliseconds(o.linger_ms));
  co_return status;
}

}  // namespace

int connect(const options& o, const net::stack_config& cfg) {
  rt::scheduler sched(rt::options{.busy_poll = o.busy_poll});
  std::unique_ptr<net::stack> st = open_stack(sched, cfg, false);
  if (!st) return exit_usage;
  std::optional<net::handshake_steps> steps;
  if (o.steps) {
    steps.emplace(std::cout);
    st->add_observer(&*steps);
  }
  int status = sched.block_on(client(o, *st, steps ? &*steps : nullptr));
  if (o.stats) st->print_stats(std::cout);
  if (steps) st->remove_observer(&*steps);
  std::cout.flush();
  return status;
}

}  // namespace coronet::echo
