#include "options.hpp"

#include <charconv>
#include <map>
#include <string_view>

#include "io/impaired_device.hpp"
#include "net/device_flags.hpp"

namespace coronet::echo {

namespace {

constexpr std::string_view usage_head = R"(coronet-echo - an echo server and client on coronet's user-space TCP/IP stack

Usage:
  coronet-echo serve   --iface IF --addr IP/PREFIX --port P [--backlog N] [--quiet]
  coronet-echo connect --iface IF --addr IP/PREFIX --to IP:PORT [--count N] [--size BYTES] [--message TEXT]
                       [--linger MS]
  common: [--backend af_packet|af_xdp] [--xdp-mode auto|native|generic] [--xdp-bind auto|zerocopy|copy]
          [--queue N] [--busy-poll] [--gateway IP] [--sysctl NAME=VALUE]... [--pcap FILE]
          [--impair SPEC] [--trace] [--stats] [--steps]

Modes:
  serve     Listen on --port and echo every byte of every connection back until
            the peer closes. Answers ARP and ping for --addr. Runs until SIGINT
            or SIGTERM, then closes the listener and its connections and exits 0.
            Prints the device it opened (and how) on stderr, unless --quiet.
  connect   Open one connection to --to, print the handshake time, send --count
            lines, check each echo byte for byte, print round-trip percentiles,
            close, and linger so TIME-WAIT can re-ACK. Exits 0 only if every
            byte came back; 1 if the connection failed or the echo differed.

Flags:
  --iface IF          network interface to own frames on (see --backend for
                      the privileges). The address must not be configured on
                      it in the kernel, or the kernel answers peers with RSTs.
  --addr IP/PREFIX    the address coronet answers for, with its subnet length
  --port P            serve: TCP port to listen on
  --to IP:PORT        connect: the server to connect to
)";

constexpr std::string_view usage_tail = R"(  --backlog N         serve: accept-queue length (default 128; capped by
                      net.core.somaxconn)
  --busy-poll         spin on the io_uring completion queue instead of sleeping
                      (lowest latency, one core at 100%)
  --count N           connect: messages to send (default 1)
  --size BYTES        connect: bytes per message, last one '\n' (default 64)
  --message TEXT      connect: send exactly TEXT plus '\n' instead
  --linger MS         connect: keep the stack running after close (default 1000)
  --gateway IP        next hop for destinations outside the subnet
  --sysctl NAME=VALUE set a stack knob by its Linux sysctl name, e.g.
                      net.ipv4.tcp_syn_retries=2 (repeatable; an unknown name
                      lists every valid one)
  --pcap FILE         write every frame in and out to FILE (pcap, Ethernet)
  --impair SPEC       lose, duplicate and reorder frames between coronet and
                      the interface, both ways (for machines without netem):
                      comma-separated [rx.|tx.]loss=P%, [rx.|tx.]dup=P%,
                      [rx.|tx.]reorder=P% (P 0..100; rx = frames coronet
                      receives, tx = frames it sends, no prefix = both),
                      reorder-gap=K (a reordered frame follows the next K,
                      1..64, default 3), seed=N (default 1), e.g.
                      --impair loss=1%,dup=0.5%,reorder=2%
  --trace             print one tcpdump-style line per TCP segment
  --stats             connect: print the stack's counters (nstat names) at
                      exit; serve prints its non-zero counters at shutdown
                      anyway, and with --stats every counter
  --steps             print each handshake step with its time in microseconds
  --quiet             serve: no line per accepted connection, no device line
  --help              this text

Examples:
  coronet-echo serve   --iface veth0 --addr 198.18.0.2/24 --port 7 --steps
  coronet-echo connect --iface veth0 --addr 198.18.0.2/24 --to 198.18.0.1:7 --count 1000 --stats

Exit status: 0 success; 1 the connection or the echo failed; 2 bad usage, or
the interface or permissions are missing.
)";

template <class T>
std::optional<T> number(std::string_view s, T lo, T hi) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || v < lo || v > hi) return std::nullopt;
  return v;
}

// Flags that take a value, and flags that do not.
const std::map<std::string_view, bool>& known_flags() {
  static const std::map<std::string_view, bool> m = {
      {"iface", true},   {"addr", true},      {"port", true},   {"to", true},     {"backlog", true},
      {"count", true},   {"size", true},      {"message", true}, {"linger", true}, {"gateway", true},
      {"sysctl", true},  {"pcap", true},      {"impair", true}, {"trace", false}, {"stats", false},
      {"steps", false},  {"quiet", false},    {"help", false},  {"busy-poll", false},
  };
  return m;
}

bool serve_only(std::string_view f) { return f == "port" || f == "backlog" || f == "quiet"; }
bool connect_only(std::string_view f) {
  return f == "to" || f == "count" || f == "size" || f == "message" || f == "linger";
}

}  // namespace

const std::string& usage() {
  static const std::string text =
      std::string(usage_head) + std::string(net::device_flags_usage) + std::string(usage_tail);
  return text;
}

parse_outcome parse(int argc, const char* const* argv) {
  parse_outcome out;
  auto fail = [&out](std::string msg) {
    out.error = std::move(msg);
    return out;
  };
  std::vector<std::string_view> args(argv + 1, argv + argc);
  for (auto a : args)
    if (a == "--help" || a == "-h" || a == "help") {
      out.help = true;
      return out;
    }
  if (args.empty()) return fail("no mode given (serve or connect)");

  options o;
  if (args[0] == "serve") {
    o.what = options::mode::serve;
  } else if (args[0] == "connect") {
    o.what = options::mode::connect;
  } else {
    return fail("unknown mode '" + std::string(args[0]) + "' (serve or connect)");
  }

  bool have_addr = false, have_port = false, have_to = false, have_size = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a.substr(0, 2) != "--") return fail("unexpected argument '" + std::string(a) + "'");
    std::string_view name = a.substr(2);
    std::optional<std::string_view> value;
    if (auto eq = name.find('='); eq != std::string_view::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const std::string flag = "--" + std::string(name);
    if (net::is_device_flag(name)) {  // every one of them takes a value
      if (!value) {
        if (i + 1 >= args.size()) return fail(flag + " needs a value");
        value = args[++i];
      }
      if (std::string e = net::set_device_flag(o.device, name, *value); !e.empty()) return fail(e);
      continue;
    }
    auto it = known_flags().find(name);
    if (it == known_flags().end()) return fail("unknown flag --" + std::string(name));
    if (o.what == options::mode::serve && connect_only(name)) return fail(flag + " belongs to connect mode");
    if (o.what == options::mode::connect && serve_only(name)) return fail(flag + " belongs to serve mode");
    if (!it->second) {
      if (value) return fail(flag + " takes no value");
    } else if (!value) {
      if (i + 1 >= args.size()) return fail(flag + " needs a value");
      value = args[++i];
    }
    const std::string v(value.value_or(""));

    if (name == "iface") {
      if (v.empty()) return fail("--iface needs an interface name");
      o.iface = v;
    } else if (name == "addr") {
      auto slash = v.find('/');
      auto ip = ipv4_addr::parse(std::string_view(v).substr(0, slash));
      auto len = slash == std::string::npos ? std::nullopt : number<int>(std::string_view(v).substr(slash + 1), 1, 32);
      if (!ip || !len) return fail("--addr wants IP/PREFIX, e.g. 198.18.0.2/24; got '" + v + "'");
      o.addr = *ip;
      o.prefix_len = *len;
      have_addr = true;
    } else if (name == "port") {
      auto p = number<std::uint16_t>(v, 1, 65535);
      if (!p) return fail("--port wants 1..65535; got '" + v + "'");
      o.port = *p;
      have_port = true;
    } else if (name == "to") {
      auto e = endpoint::parse(v);
      if (!e) return fail("--to wants IP:PORT, e.g. 198.18.0.1:7; got '" + v + "'");
      o.to = *e;
      have_to = true;
    } else if (name == "backlog") {
      auto n = number<int>(v, 1, 1 << 20);
      if (!n) return fail("--backlog wants a positive number; got '" + v + "'");
      o.backlog = *n;
    } else if (name == "count") {
      auto n = number<int>(v, 0, 1 << 30);
      if (!n) return fail("--count wants a number >= 0; got '" + v + "'");
      o.count = *n;
    } else if (name == "size") {
      auto n = number<std::size_t>(v, 1, std::size_t{1} << 30);
      if (!n) return fail("--size wants a number of bytes >= 1; got '" + v + "'");
      o.size = *n;
      have_size = true;
    } else if (name == "message") {
      o.message = v;
    } else if (name == "linger") {
      auto n = number<int>(v, 0, 3600 * 1000);
      if (!n) return fail("--linger wants milliseconds >= 0; got '" + v + "'");
      o.linger_ms = *n;
    } else if (name == "gateway") {
      auto ip = ipv4_addr::parse(v);
      if (!ip) return fail("--gateway wants an IPv4 address; got '" + v + "'");
      o.gateway = *ip;
    } else if (name == "sysctl") {
      if (v.find('=') == std::string::npos) return fail("--sysctl wants NAME=VALUE; got '" + v + "'");
      o.sysctls.push_back(v);
    } else if (name == "pcap") {
      if (v.empty()) return fail("--pcap needs a file name");
      o.pcap = v;
    } else if (name == "impair") {
      auto spec = io::parse_impairment(v);
      if (!spec) return fail("--impair: " + spec.error());
      o.impair = v;
    } else if (name == "busy-poll") {
      o.busy_poll = true;
    } else if (name == "trace") {
      o.trace = true;
    } else if (name == "stats") {
      o.stats = true;
    } else if (name == "steps") {
      o.steps = true;
    } else if (name == "quiet") {
      o.quiet = true;
    }
  }

  if (o.iface.empty()) return fail("missing --iface");
  if (!have_addr) return fail("missing --addr");
  if (o.what == options::mode::serve && !have_port) return fail("missing --port");
  if (o.what == options::mode::connect && !have_to) return fail("missing --to");
  if (o.message && have_size) return fail("--message and --size exclude each other");
  if (std::string e = net::check_device_flags(o.device); !e.empty()) return fail(e);
  out.opts = std::move(o);
  return out;
}

}  // namespace coronet::echo
