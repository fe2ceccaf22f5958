#include "options.hpp"

#include <charconv>
#include <map>
#include <string_view>

#include "net/device_flags.hpp"

namespace coronet::bulk {

namespace {

constexpr std::string_view usage_head = R"(coronet-bulk - bulk TCP transfer on coronet's stack or the kernel's, with the same code on both

Usage:
  coronet-bulk --stack coronet|kernel (--listen PORT | --connect IP:PORT) [--send BYTES] [--recv] [options]

Each connection sends --send BYTES of a pseudo-random stream fixed by --seed
while it receives whatever the peer sends (full duplex). Once its own bytes are
queued it shuts down its sending side (FIN: a half-close) and keeps reading
until the peer's FIN, waits until the peer has acknowledged its FIN (so every
byte it sent arrived), then closes. At the end of each connection it prints one
line on stdout:

  sent=N sent_sha256=HEX recv=M recv_sha256=HEX secs=S send_gbps=X recv_gbps=Y peer=IP:PORT result=ok

The stream of a --seed is the same on both stacks, so the sender's sent_sha256
equals the receiver's recv_sha256 exactly when every byte arrived in order.
secs runs from the connection's establishment until both directions are done;
send_gbps counts until our FIN was acknowledged, recv_gbps until the peer's FIN.

Both stacks:
  --stack coronet|kernel  coronet's user-space TCP (a packet device on --iface) or the kernel's sockets
  --listen PORT           accept --count connections, one after another, then exit
  --connect IP:PORT       open one connection
  --count N               --listen: connections to serve (default 1)
  --send BYTES            bytes to send; suffixes K, M, G are binary (default 0)
  --recv                  receive until the peer's FIN; always done, the flag only states it
  --seed N                seed of the sent stream (default 1)
  --no-hash               skip SHA-256 (it runs at ~1.3 Gbit/s; benchmarks turn it off)
  --verify-seed N         compare the received bytes with the stream of seed N as they
                          arrive (fast); a difference ends the connection with status 7
  --reset-after BYTES     once that many bytes were sent or received, reset the connection
                          (kernel: SO_LINGER {1, 0} then close; coronet: abort())
  --read-delay-us N       sleep N microseconds after each read: a slow reader
  --stall-after BYTES     stop reading once, after receiving BYTES, for --stall-ms
  --stall-ms MS           (default 1500): the receive buffer fills, the window closes and
                          the peer has to probe it (RFC 9293 3.8.6.1)
  --timeout SECS          give up when nothing moves for SECS: no connection accepted or
                          established, no byte sent, received or acknowledged
                          (default 60; 0 waits forever)
  --stats                 coronet: the stack's counters (nstat names) and the connection's
                          info(); kernel: TCP_INFO of each connection
  --help                  this text

--stack coronet:
  --iface IF              interface to own frames on (privileges: see --backend below); the
                          address must not be configured on it in the kernel
  --addr IP/PREFIX        the address coronet answers for
  --gateway IP            next hop off the subnet
  --sysctl NAME=VALUE     a stack knob by its Linux name, e.g. net.ipv4.tcp_wmem=4194304
                          (repeatable; an unknown name lists the valid ones)
  --busy-poll             spin on the io_uring completion queue instead of sleeping
  --impair SPEC           impair the device's traffic, e.g. loss=1%,dup=1%,reorder=2%
                          (grammar: io/impaired_device.hpp)
  --pcap FILE             write every frame in and out to FILE
  --linger MS             keep the stack running after the last close (default 200), so
                          TIME-WAIT can re-ACK a retransmitted FIN
  The coronet stack prints the device it opened (and how) on stderr.

--stack coronet, the packet device:
)";

constexpr std::string_view usage_tail = R"(
--stack kernel:
  --rcvbuf BYTES          SO_RCVBUF, set before listen/connect (the kernel doubles it)
  --sndbuf BYTES          SO_SNDBUF, set before listen/connect
  --nodelay               TCP_NODELAY

Exit status (--listen --count N: the first connection that failed decides):
  0 success; 1 another failure (I/O error, signal); 2 bad usage, or the interface or
  privilege is missing; 3 connection reset by peer (also a broken pipe); 4 connection
  refused; 5 timed out; 6 host or network unreachable; 7 received data differs from
  --verify-seed's stream. An error prints a line naming it on stderr.
  Resetting on purpose (--reset-after) is a success: its line says result=reset_sent.

Examples:
  coronet-bulk --stack kernel --listen 5001 --send 64M
  coronet-bulk --stack coronet --iface veth0 --addr 198.18.0.2/24 --connect 198.18.0.1:5001 --send 64M --stats
)";

template <class T>
std::optional<T> number(std::string_view s, T lo, T hi) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || v < lo || v > hi) return std::nullopt;
  return v;
}

enum class scope { both, coronet, kernel };
struct flag_spec {
  bool takes_value;
  scope where;
};

const std::map<std::string_view, flag_spec>& known_flags() {
  static const std::map<std::string_view, flag_spec> m = {
      {"stack", {true, scope::both}},         {"listen", {true, scope::both}},
      {"connect", {true, scope::both}},       {"count", {true, scope::both}},
      {"send", {true, scope::both}},          {"recv", {false, scope::both}},
      {"seed", {true, scope::both}},          {"no-hash", {false, scope::both}},
      {"verify-seed", {true, scope::both}},   {"reset-after", {true, scope::both}},
      {"read-delay-us", {true, scope::both}}, {"timeout", {true, scope::both}},
      {"stall-after", {true, scope::both}},   {"stall-ms", {true, scope::both}},
      {"stats", {false, scope::both}},        {"help", {false, scope::both}},
      {"iface", {true, scope::coronet}},      {"addr", {true, scope::coronet}},
      {"gateway", {true, scope::coronet}},    {"sysctl", {true, scope::coronet}},
      {"busy-poll", {false, scope::coronet}}, {"impair", {true, scope::coronet}},
      {"pcap", {true, scope::coronet}},       {"linger", {true, scope::coronet}},
      {"rcvbuf", {true, scope::kernel}},      {"sndbuf", {true, scope::kernel}},
      {"nodelay", {false, scope::kernel}},
      // net/device_flags.hpp: --backend, --xdp-mode, --xdp-bind, --queue, --xdp-fill
      {"backend", {true, scope::coronet}},    {"xdp-mode", {true, scope::coronet}},
      {"xdp-bind", {true, scope::coronet}},   {"queue", {true, scope::coronet}},
      {"xdp-fill", {true, scope::coronet}},
  };
  return m;
}

// Applies one flag with its value; returns an error message or "".
std::string apply(options& o, std::string_view name, const std::string& v) {
  if (name == "stack") {
    if (v == "coronet") {
      o.stack = stack_kind::coronet;
    } else if (v == "kernel") {
      o.stack = stack_kind::kernel;
    } else {
      return "--stack takes coronet or kernel; got '" + v + "'";
    }
  } else if (name == "listen") {
    auto p = number<std::uint16_t>(v, 1, 65535);
    if (!p) return "--listen wants a port 1..65535; got '" + v + "'";
    o.listen_port = *p;
  } else if (name == "connect") {
    auto e = endpoint::parse(v);
    if (!e || e->port == 0) return "--connect wants IP:PORT, e.g. 198.18.0.1:5001; got '" + v + "'";
    o.connect_to = *e;
  } else if (name == "count") {
    auto n = number<int>(v, 1, 1 << 20);
    if (!n) return "--count wants a number >= 1; got '" + v + "'";
    o.count = *n;
  } else if (name == "send") {
    auto n = parse_size(v);
    if (!n) return "--send wants a byte count such as 65536 or 64M; got '" + v + "'";
    o.send_bytes = *n;
  } else if (name == "seed" || name == "verify-seed") {
    auto n = number<std::uint64_t>(v, 0, UINT64_MAX);
    if (!n) return "--" + std::string(name) + " wants a number >= 0; got '" + v + "'";
    (name == "seed" ? o.seed : o.verify_seed.emplace()) = *n;
  } else if (name == "reset-after") {
    auto n = parse_size(v);
    if (!n || *n == 0) return "--reset-after wants a byte count >= 1; got '" + v + "'";
    o.reset_after = *n;
  } else if (name == "read-delay-us") {
    auto n = number<std::uint32_t>(v, 0, 10'000'000);
    if (!n) return "--read-delay-us wants 0..10000000 microseconds; got '" + v + "'";
    o.read_delay_us = *n;
  } else if (name == "stall-after") {
    auto n = parse_size(v);
    if (!n) return "--stall-after wants a byte count; got '" + v + "'";
    o.stall_after = *n;
  } else if (name == "stall-ms") {
    auto n = number<int>(v, 1, 3600 * 1000);
    if (!n) return "--stall-ms wants 1..3600000 milliseconds; got '" + v + "'";
    o.stall_ms = *n;
  } else if (name == "timeout") {
    auto n = number<int>(v, 0, 86400);
    if (!n) return "--timeout wants 0..86400 seconds; got '" + v + "'";
    o.timeout_s = *n;
  } else if (name == "iface") {
    if (v.empty()) return "--iface needs an interface name";
    o.iface = v;
  } else if (name == "addr") {
    auto slash = v.find('/');
    auto ip = ipv4_addr::parse(std::string_view(v).substr(0, slash));
    auto len = slash == std::string::npos ? std::nullopt : number<int>(std::string_view(v).substr(slash + 1), 1, 32);
    if (!ip || !len) return "--addr wants IP/PREFIX, e.g. 198.18.0.2/24; got '" + v + "'";
    o.addr = *ip;
    o.prefix_len = *len;
  } else if (name == "gateway") {
    auto ip = ipv4_addr::parse(v);
    if (!ip) return "--gateway wants an IPv4 address; got '" + v + "'";
    o.gateway = *ip;
  } else if (net::is_device_flag(name)) {
    return net::set_device_flag(o.device, name, v);
  } else if (name == "sysctl") {
    if (v.find('=') == std::string::npos) return "--sysctl wants NAME=VALUE; got '" + v + "'";
    o.sysctls.push_back(v);
  } else if (name == "impair") {
    if (v.empty()) return "--impair needs a spec such as loss=1%";
    o.impair = v;
  } else if (name == "pcap") {
    if (v.empty()) return "--pcap needs a file name";
    o.pcap = v;
  } else if (name == "linger") {
    auto n = number<int>(v, 0, 3600 * 1000);
    if (!n) return "--linger wants milliseconds >= 0; got '" + v + "'";
    o.linger_ms = *n;
  } else if (name == "rcvbuf" || name == "sndbuf") {
    auto n = parse_size(v);
    if (!n || *n == 0 || *n > (1u << 30)) return "--" + std::string(name) + " wants 1..1G bytes; got '" + v + "'";
    (name == "rcvbuf" ? o.rcvbuf : o.sndbuf) = static_cast<int>(*n);
  } else if (name == "recv") {
    // Reading until the peer's FIN always happens; the flag only says so.
  } else if (name == "no-hash") {
    o.hash = false;
  } else if (name == "stats") {
    o.stats = true;
  } else if (name == "busy-poll") {
    o.busy_poll = true;
  } else if (name == "nodelay") {
    o.nodelay = true;
  }
  return "";
}

std::string check_complete(const options& o, bool have_stack) {
  if (!have_stack) return "missing --stack (coronet or kernel)";
  if (o.listen_port && o.connect_to) return "--listen and --connect exclude each other";
  if (!o.listen_port && !o.connect_to) return "missing --listen PORT or --connect IP:PORT";
  if (o.count != 1 && !o.listen_port) return "--count belongs to --listen";
  if (o.stall_ms != 0 && !o.stall_after) return "--stall-ms needs --stall-after";
  if (o.stack == stack_kind::coronet) {
    if (o.iface.empty()) return "--stack coronet needs --iface";
    if (!o.addr) return "--stack coronet needs --addr IP/PREFIX";
    if (std::string e = net::check_device_flags(o.device); !e.empty()) return e;
  }
  return "";
}

}  // namespace

const std::string& usage() {
  static const std::string text =
      std::string(usage_head) + std::string(net::device_flags_usage) + std::string(usage_tail);
  return text;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::uint64_t mult = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'K': case 'k': mult = 1ull << 10; break;
      case 'M': case 'm': mult = 1ull << 20; break;
      case 'G': case 'g': mult = 1ull << 30; break;
      default: break;
    }
    if (mult != 1) text.remove_suffix(1);
  }
  auto n = number<std::uint64_t>(text, 0, (1ull << 50) / mult);  // at most 1 PiB
  if (!n) return std::nullopt;
  return *n * mult;
}

parse_outcome parse(int argc, const char* const* argv) {
  parse_outcome out;
  auto fail = [&out](std::string msg) {
    out.error = std::move(msg);
    return out;
  };
  std::vector<std::string_view> args(argv + 1, argv + argc);
  for (auto a : args)
    if (a == "--help" || a == "-h") {
      out.help = true;
      return out;
    }
  if (args.empty()) return fail("no arguments: --stack and --listen or --connect are required");

  // Two passes: the stack first, so flags of the other stack are named as such.
  options o;
  struct given {
    std::string_view name;
    std::string value;
  };
  std::vector<given> flags;
  bool have_stack = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a.substr(0, 2) != "--") return fail("unexpected argument '" + std::string(a) + "'");
    std::string_view name = a.substr(2);
    std::optional<std::string_view> value;
    if (auto eq = name.find('='); eq != std::string_view::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto it = known_flags().find(name);
    if (it == known_flags().end()) return fail("unknown flag --" + std::string(name));
    if (!it->second.takes_value) {
      if (value) return fail("--" + std::string(name) + " takes no value");
    } else if (!value) {
      if (i + 1 >= args.size()) return fail("--" + std::string(name) + " needs a value");
      value = args[++i];
    }
    flags.push_back({it->first, std::string(value.value_or(""))});
    if (name == "stack") {
      if (std::string e = apply(o, name, flags.back().value); !e.empty()) return fail(e);
      have_stack = true;
    }
  }
  for (const given& f : flags) {
    const scope where = known_flags().at(f.name).where;
    if (have_stack && where == scope::coronet && o.stack != stack_kind::coronet)
      return fail("--" + std::string(f.name) + " belongs to --stack coronet");
    if (have_stack && where == scope::kernel && o.stack != stack_kind::kernel)
      return fail("--" + std::string(f.name) + " belongs to --stack kernel");
    if (std::string e = apply(o, f.name, f.value); !e.empty()) return fail(e);
  }
  if (std::string e = check_complete(o, have_stack); !e.empty()) return fail(e);
  if (o.stall_after && o.stall_ms == 0) o.stall_ms = 1500;
  out.opts = std::move(o);
  return out;
}

}  // namespace coronet::bulk
