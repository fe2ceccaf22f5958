#include "net/device_flags.hpp"

#include <charconv>
#include <initializer_list>

#include "net/stack.hpp"

namespace coronet::net {

namespace {

// The highest queue --queue accepts. Linux caps an interface's queues far
// higher (netdev's num_rx_queues), but no NIC coronet meets has more.
constexpr int max_queue = 1023;
// --xdp-fill: at most the RX ring's size.
constexpr int max_fill = static_cast<int>(io::default_ring_size);

// A whole decimal number in [lo, hi] (no sign, no spaces, nothing after it).
bool parse_int(std::string_view value, int lo, int hi, int& out) {
  int n = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc{} || p != value.data() + value.size() || n < lo || n > hi) return false;
  out = n;
  return true;
}

std::string got(std::string_view flag, std::string_view accepted, std::string_view value) {
  return "--" + std::string(flag) + " takes " + std::string(accepted) + "; got '" + std::string(value) + "'";
}

bool is_xdp_backend(const stack_config& cfg) { return cfg.backend == "af_xdp"; }

// Sets `out` to the choice whose io::to_string spelling is `value`.
template <class E>
bool parse_choice(std::string_view value, std::initializer_list<E> choices, E& out) {
  for (E c : choices) {
    if (value == io::to_string(c)) {
      out = c;
      return true;
    }
  }
  return false;
}

}  // namespace

bool is_device_flag(std::string_view name) {
  return name == "backend" || name == "xdp-mode" || name == "xdp-bind" || name == "queue" || name == "xdp-fill";
}

std::string set_device_flag(stack_config& cfg, std::string_view name, std::string_view value) {
  if (name == "backend") {
    if (value != "af_packet" && value != "af_xdp")
      return "--backend: unknown backend '" + std::string(value) + "' (available: af_packet, af_xdp)";
    cfg.backend = std::string(value);
  } else if (name == "xdp-mode") {
    if (!parse_choice(value, {io::xdp_mode::automatic, io::xdp_mode::native, io::xdp_mode::generic}, cfg.xdp_mode))
      return got(name, "auto, native or generic", value);
  } else if (name == "xdp-bind") {
    if (!parse_choice(value, {io::xdp_bind::automatic, io::xdp_bind::zerocopy, io::xdp_bind::copy}, cfg.xdp_bind))
      return got(name, "auto, zerocopy or copy", value);
  } else if (name == "queue") {
    if (!parse_int(value, 0, max_queue, cfg.queue))
      return got(name, "an RX queue number 0.." + std::to_string(max_queue), value);
  } else if (name == "xdp-fill") {
    if (!parse_int(value, 1, max_fill, cfg.xdp_fill))
      return got(name, "a number of RX frames 1.." + std::to_string(max_fill), value);
  } else {
    return "--" + std::string(name) + " is not a device flag";
  }
  return "";
}

std::string check_device_flags(const stack_config& cfg) {
  if (is_xdp_backend(cfg)) return "";
  const char* given = cfg.xdp_mode != io::xdp_mode::automatic   ? "--xdp-mode"
                      : cfg.xdp_bind != io::xdp_bind::automatic ? "--xdp-bind"
                      : cfg.queue != -1                         ? "--queue"
                      : cfg.xdp_fill != 0                       ? "--xdp-fill"
                                                                : nullptr;
  if (given == nullptr) return "";
  return std::string(given) + " needs --backend af_xdp (the backend is " + cfg.backend + ")";
}

std::string device_privilege_hint(const stack_config& cfg, std::string_view error, bool root) {
  if (root) return "";
  if (is_xdp_backend(cfg)) {
    // XDP attach (dev_change_xdp_fd / bpf_xdp_link_attach) wants CAP_NET_ADMIN;
    // loading the program and its maps wants CAP_BPF (kernel/bpf/syscall.c);
    // the socket itself CAP_NET_RAW (xsk_create).
    for (std::string_view cap : {"CAP_NET_ADMIN", "CAP_BPF", "CAP_NET_RAW", "CAP_IPC_LOCK"})
      if (error.find(cap) != std::string_view::npos) return "";
    return " (not running as root: AF_XDP needs CAP_NET_ADMIN, CAP_BPF and CAP_NET_RAW)";
  }
  // packet_create(): CAP_NET_RAW in the socket's network namespace.
  if (error.find("CAP_NET_RAW") != std::string_view::npos) return "";
  return " (not running as root: AF_PACKET needs CAP_NET_RAW)";
}

}  // namespace coronet::net
