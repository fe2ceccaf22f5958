// coronet-echo serve: accept connections and echo every byte back.
#include <signal.h>

#include <array>
#include <iostream>
#include <stop_token>

#include "app.hpp"
#include "net/conn_report.hpp"
#include "runtime/cancel.hpp"
#include "runtime/signals.hpp"
#include "runtime/timer.hpp"

namespace coronet::echo {

namespace {

using namespace std::chrono_literals;

struct server_state {
  rt::scheduler& sched;
  net::stack& st;
  net::handshake_steps* steps;
  bool quiet;
  bool stats;    // --stats: each connection's report (net/conn_report.hpp) when it ends
  int live = 0;  // echo tasks running
};

// Echoes until the peer's FIN (or an error, or stop), then closes gracefully.
rt::task<> echo_connection(net::stream s, server_state& ss) {
  ++ss.live;
  std::array<std::uint8_t, 16384> buf{};
  for (;;) {
    net::result<std::size_t> n = co_await s.read(buf);
    if (!n || *n == 0) break;
    net::result<std::size_t> w = co_await s.write(bytes{buf.data(), *n});
    if (!w) break;
  }
  if (ss.stats) net::print_conn_info(std::cout, s.info());
  s.close();
  --ss.live;
}

// After stop: the closed streams' FINs go out and their ACKs come back.
rt::task<> drain(server_state& ss) {
  for (int i = 0; i < 500 && ss.live > 0; ++i) co_await rt::sleep_for(1ms);
  co_await rt::sleep_for(50ms);
}

rt::task<int> accept_loop(net::listener& l, server_state& ss) {
  std::stop_token stop = co_await rt::this_stop_token();
  int status = exit_ok;
  for (;;) {
    net::result<net::stream> s = co_await l.accept();
    if (!s) {
      if (s.error() != std::errc::operation_canceled) {
        std::cerr << "coronet-echo: accept failed: " << s.error().message() << '\n';
        status = exit_failed;
      }
      break;
    }
    if (ss.steps != nullptr) ss.steps->resumed(s->local(), s->remote(), ss.st.now(), "accept()");
    if (!ss.quiet) std::cout << "accepted " << s->remote().to_string() << '\n';
    // Same token: stopping the server cancels the echo tasks' reads too.
    ss.sched.spawn(echo_connection(std::move(*s), ss), stop);
  }
  l.close();
  co_await drain(ss).with_stop_token({});
  co_return status;
}

}  // namespace

int serve(const options& o, const net::stack_config& cfg) {
  rt::scheduler sched(rt::options{.busy_poll = o.busy_poll});
  std::stop_source stop;
  rt::signal_watch signals(sched.ring(), [&stop](int signo) {
    std::cout << "coronet-echo: " << (signo == SIGINT ? "SIGINT" : "SIGTERM") << ", shutting down\n";
    stop.request_stop();
  });
  std::unique_ptr<net::stack> st = open_stack(sched, cfg, o.quiet);  // destroyed before `signals`
  if (!st) return exit_usage;

  std::optional<net::handshake_steps> steps;
  if (o.steps) {
    steps.emplace(std::cout);
    st->add_observer(&*steps);
  }
  net::result<net::listener> l = st->listen(o.port, o.backlog);
  if (!l) {
    std::cerr << "coronet-echo: cannot listen on port " << o.port << ": " << l.error().message() << '\n';
    return exit_failed;
  }
  std::cout << "coronet-echo: serving " << l->local().to_string() << " on " << st->device().name() << " ("
            << st->iface().mac.to_string() << ", mtu " << st->iface().mtu << ")"
            << (o.busy_poll ? ", busy-polling" : "") << std::endl;

  server_state ss{sched, *st, steps ? &*steps : nullptr, o.quiet, o.stats};
  int status = sched.block_on(accept_loop(*l, ss).with_stop_token(stop.get_token()));
  // serve always reports its counters at shutdown; --stats adds the zeros.
  st->print_stats(std::cout, o.stats);
  if (steps) st->remove_observer(&*steps);
  std::cout.flush();
  return status;
}

}  // namespace coronet::echo
