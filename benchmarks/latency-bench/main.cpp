// latency-bench - round-trip latency of 64-byte messages, one at a time, at
// three levels on the same link, so each can be compared with the one below
// it in one run (benchmarks/latency.sh runs them all, docs/latency.md):
//
//   raw-pong / raw-ping   a 64-byte Ethernet+IPv4 frame (IP protocol 253,
//                         RFC 3692's experimental value) through the packet
//                         device alone: the floor for any TCP on that device
//   tcp-server / tcp-ping coronet's TCP on the same device: write 64 bytes,
//                         read the 64 echoed back; with --interleave-raw,
//                         raw round trips in turn with them in one run
//   kernel-server / kernel-ping  the kernel's TCP (TCP_NODELAY), blocking or
//                         spinning on recv(MSG_DONTWAIT): the reference
//
// --busy-poll makes every mode spin instead of sleeping (coronet: the
// scheduler's busy_poll). Each ping warms up for --warmup-ms, then takes
// --count samples within --max-seconds and prints one line:
//   result mode=raw-ping device=af_packet wait=busy samples=20000 warmup=..
//          frame_bytes=64 lost=0 strays=0 min=.. p50=.. p90=.. p99=.. max=.. unit=us
// and on stderr how many samples it kept and why it stopped (count reached,
// time limit, signal, the server closed, an error). Exit status 0 only with
// all --count samples; 1 (the line still printed) with fewer.
// Servers run until SIGINT/SIGTERM or --max-seconds.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "latency.hpp"
#include "net/device_flags.hpp"

namespace coronet::latency {

namespace {

constexpr const char* usage_text =
    "usage: latency-bench raw-pong      --iface IF --addr IP/PREFIX [--busy-poll] [device flags]\n"
    "       latency-bench raw-ping      --iface IF --addr IP/PREFIX --peer IP --peer-mac MAC [--busy-poll]\n"
    "                                   [--frame-bytes N] [device flags] [sampling]\n"
    "       latency-bench tcp-server    --iface IF --addr IP/PREFIX --port P [--busy-poll] [device flags]\n"
    "       latency-bench tcp-ping      --iface IF --addr IP/PREFIX --to IP:PORT [--busy-poll] [device flags]\n"
    "                                   [--interleave-raw --peer-mac MAC [--frame-bytes N]] [sampling]\n"
    "       latency-bench kernel-server --listen IP:PORT [--busy-poll]\n"
    "       latency-bench kernel-ping   --to IP:PORT [--busy-poll] [sampling]\n"
    "every mode: --max-seconds S  stop after S seconds (pings: default 60; servers: no limit)\n"
    "            --busy-poll      spin instead of sleeping (coronet: rt::options::busy_poll;\n"
    "                             kernel: recv(MSG_DONTWAIT) in a loop)\n"
    "raw-pong, tcp-server, tcp-ping: --timing  split the round trip: the time the program holds\n"
    "                             a message (from a frame's delivery to the flush of the reply)\n"
    "tcp-server, tcp-ping: --no-fast-paths  every segment through TCP's general path (no header\n"
    "                             prediction, no one-segment transmit): to time what they save\n"
    "raw-ping:   --frame-bytes N  the frame's whole length, 64..1514 (default 64; a 64-byte TCP\n"
    "                             echo with timestamps travels in 130-byte frames)\n"
    "tcp-server: --raw-work WORK   before each raw answer, do WORK and time it: spin:NS (spin on\n"
    "                             the clock NS ns, 1..100000) or tcp-echo (a 64-byte echo through\n"
    "                             two TCP engines in memory); the summary reports its p50\n"
    "tcp-ping:   --interleave-raw raw round trips (raw-ping's frame, to the server at --peer-mac)\n"
    "                             in turn with the TCP ones, raw first, blocks of 100 kept samples,\n"
    "                             --count of each; a raw-ping result line comes first, both with\n"
    "                             blocks=N (tcp-server answers them)\n"
    "sampling:   --count N        samples after the warm-up, 1..10000000 (default 20000); exit 1\n"
    "                             (the result line still printed) when fewer were kept\n"
    "            --warmup-ms MS   round trips discarded first, by time (default 300; shorter than\n"
    "                             the run's limit)\n"
    "device flags (raw and tcp modes):\n";

[[noreturn]] void usage(const std::string& why) {
  if (!why.empty()) std::fprintf(stderr, "latency-bench: %s\n", why.c_str());
  std::fprintf(stderr, "%s%s", usage_text, std::string(net::device_flags_usage).c_str());
  std::exit(exit_usage);
}

bool known_mode(std::string_view m) {
  for (std::string_view k : {"raw-pong", "raw-ping", "tcp-server", "tcp-ping", "kernel-server", "kernel-ping"})
    if (m == k) return true;
  return false;
}

bool device_mode(std::string_view m) { return m.starts_with("raw-") || m.starts_with("tcp-"); }

// A whole decimal number in [lo, hi], or nullopt.
std::optional<long> number(std::string_view text, long lo, long hi) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  long v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

void parse_addr(options& o, std::string_view v) {
  auto slash = v.find('/');
  if (slash == std::string_view::npos) usage("--addr takes IP/PREFIX");
  o.addr = ipv4_addr::parse(v.substr(0, slash));
  auto p = number(v.substr(slash + 1), 1, 32);
  if (!o.addr || !p) usage("--addr takes IP/PREFIX (prefix 1..32)");
  o.prefix = static_cast<int>(*p);
}

// Which flags a mode takes, beyond --busy-poll and --max-seconds.
bool flag_allowed(std::string_view mode, std::string_view flag) {
  const bool ping = mode.ends_with("-ping");
  if (flag == "--count" || flag == "--warmup-ms") return ping;
  if (flag == "--iface" || flag == "--addr") return device_mode(mode);
  if (flag == "--timing") return mode == "raw-pong" || mode == "tcp-server" || mode == "tcp-ping";
  if (flag == "--peer") return mode == "raw-ping";
  if (flag == "--peer-mac" || flag == "--frame-bytes") return mode == "raw-ping" || mode == "tcp-ping";
  if (flag == "--interleave-raw") return mode == "tcp-ping";
  if (flag == "--port" || flag == "--raw-work") return mode == "tcp-server";
  if (flag == "--no-fast-paths") return mode == "tcp-server" || mode == "tcp-ping";
  if (flag == "--to") return mode == "tcp-ping" || mode == "kernel-ping";
  if (flag == "--listen") return mode == "kernel-server";
  return true;
}

// --raw-work: "tcp-echo" or "spin:NS" (NS 1..100000); nullopt for anything else.
std::optional<raw_work_spec> raw_work_of(std::string_view text) {
  if (text == "tcp-echo") return raw_work_spec{raw_work_spec::kind::tcp_echo, 0};
  if (!text.starts_with("spin:")) return std::nullopt;
  auto ns = number(text.substr(5), 1, 100000);
  if (!ns) return std::nullopt;
  return raw_work_spec{raw_work_spec::kind::spin, *ns};
}

void check_required(const options& o) {
  if (device_mode(o.mode) && (o.iface.empty() || !o.addr)) usage(o.mode + " needs --iface and --addr");
  if (o.mode == "raw-ping" && (!o.peer || !o.peer_mac)) usage("raw-ping needs --peer and --peer-mac");
  if (o.mode == "tcp-ping" && o.interleave_raw && !o.peer_mac)
    usage("tcp-ping --interleave-raw needs --peer-mac (the server's MAC)");
  if (o.mode == "tcp-ping" && !o.interleave_raw && (o.peer_mac || o.frame_bytes != static_cast<int>(message_len)))
    usage("--peer-mac and --frame-bytes apply to tcp-ping only with --interleave-raw");
  if (o.mode == "tcp-server" && o.port == 0) usage("tcp-server needs --port");
  if ((o.mode == "tcp-ping" || o.mode == "kernel-ping") && !o.to) usage(o.mode + " needs --to");
  if (o.mode == "kernel-server" && !o.to) usage("kernel-server needs --listen");
  if (const double limit = run_limit_seconds(o); o.is_ping() && o.warmup_ms >= limit * 1000)
    usage("--warmup-ms " + std::to_string(o.warmup_ms) + " leaves no time for samples: it must be shorter than the " +
          "run's limit of " + std::to_string(static_cast<long>(limit)) + " s (--max-seconds; pings: 60 by default)");
  if (std::string e = net::check_device_flags(o.device); !e.empty()) usage(e);
}

}  // namespace

options parse(int argc, char** argv) {
  options o;
  if (argc < 2) usage("missing mode");
  o.mode = argv[1];
  if (o.mode == "--help" || o.mode == "-h") usage("");
  if (!known_mode(o.mode)) usage("unknown mode '" + o.mode + "'");
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) usage("flag " + a + " needs a value");
      return argv[++i];
    };
    if (!flag_allowed(o.mode, a)) usage(a + " does not apply to " + o.mode);
    if (a == "--help" || a == "-h") {
      usage("");
    } else if (a == "--iface") {
      o.iface = value();
    } else if (a == "--addr") {
      parse_addr(o, value());
    } else if (a == "--peer") {
      o.peer = ipv4_addr::parse(value());
      if (!o.peer) usage("--peer takes an IPv4 address");
    } else if (a == "--peer-mac") {
      o.peer_mac = mac_addr::parse(value());
      if (!o.peer_mac) usage("--peer-mac takes a MAC address such as 02:00:00:00:00:01");
    } else if (a == "--to" || a == "--listen") {
      o.to = endpoint::parse(value());
      if (!o.to || o.to->port == 0) usage(a + " takes IP:PORT");
    } else if (a == "--port") {
      auto p = number(value(), 1, 65535);
      if (!p) usage("--port takes 1..65535");
      o.port = static_cast<std::uint16_t>(*p);
    } else if (a == "--raw-work") {
      auto w = raw_work_of(value());
      if (!w) usage("--raw-work takes spin:NS (NS 1..100000) or tcp-echo");
      o.raw_work = *w;
    } else if (a == "--frame-bytes") {
      auto n = number(value(), static_cast<long>(message_len), 1514);
      if (!n) usage("--frame-bytes takes 64..1514");
      o.frame_bytes = static_cast<int>(*n);
    } else if (a == "--interleave-raw") {
      o.interleave_raw = true;
    } else if (a == "--timing") {
      o.timing = true;
    } else if (a == "--no-fast-paths") {
      o.fast_paths = false;
    } else if (a == "--busy-poll") {
      o.busy_poll = true;
    } else if (a == "--count") {
      auto n = number(value(), 1, 10000000);
      if (!n) usage("--count takes 1..10000000");
      o.count = static_cast<int>(*n);
    } else if (a == "--warmup-ms") {
      auto n = number(value(), 0, 60000);
      if (!n) usage("--warmup-ms takes 0..60000");
      o.warmup_ms = static_cast<int>(*n);
    } else if (a == "--max-seconds") {
      auto n = number(value(), 1, 86400);
      if (!n) usage("--max-seconds takes 1..86400");
      o.max_seconds = static_cast<double>(*n);
    } else if (a.starts_with("--") && net::is_device_flag(std::string_view(a).substr(2))) {
      if (!device_mode(o.mode)) usage(a + " does not apply to " + o.mode);
      if (std::string e = net::set_device_flag(o.device, std::string_view(a).substr(2), value()); !e.empty()) usage(e);
    } else {
      usage("unknown flag '" + a + "'");
    }
  }
  check_required(o);
  return o;
}

}  // namespace coronet::latency

int main(int argc, char** argv) {
  using namespace coronet::latency;
  const options o = parse(argc, argv);
  try {
    if (o.mode == "raw-pong") return raw_pong(o);
    if (o.mode == "raw-ping") return raw_ping(o);
    if (o.mode == "tcp-server") return tcp_server(o);
    if (o.mode == "tcp-ping") return tcp_ping(o);
    if (o.mode == "kernel-server") return kernel_server(o);
    return kernel_ping(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "latency-bench %s: %s\n", o.mode.c_str(), e.what());
    return exit_failed;
  }
}
