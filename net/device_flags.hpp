// net/device_flags.hpp - the command-line flags that choose the packet device,
// shared by every example and benchmark so they spell and check them alike:
//
//   --backend af_packet|af_xdp     the device (net::open_device)
//   --xdp-mode auto|native|generic af_xdp: driver or SKB XDP
//   --xdp-bind auto|zerocopy|copy  af_xdp: how the sockets bind to the queues
//   --queue N                      af_xdp: one RX queue (0..1023) instead of all
//   --xdp-fill N                   af_xdp: RX frames in each fill ring at first
//
// A program's own parser hands any flag for which is_device_flag() holds to
// set_device_flag(), and calls check_device_flags() once every flag is in.
//
//   if (net::is_device_flag(name)) err = net::set_device_flag(cfg, name, value);
//   ...
//   if (err.empty()) err = net::check_device_flags(cfg);
#pragma once

#include <string>
#include <string_view>

namespace coronet::net {

struct stack_config;

// True for "backend", "xdp-mode", "xdp-bind", "queue" and "xdp-fill" (the
// name without its dashes). Each of them takes a value.
bool is_device_flag(std::string_view name);

// Stores one flag's value in `cfg`. Returns "" or a message naming the flag,
// what it got and the values it accepts. A later value replaces an earlier one.
std::string set_device_flag(stack_config& cfg, std::string_view name, std::string_view value);

// After parsing: "" or what is inconsistent. --xdp-mode, --xdp-bind,
// --queue and --xdp-fill only mean something with --backend af_xdp. (A flag given with its
// default value cannot be told from one not given; that is harmless.)
std::string check_device_flags(const stack_config& cfg);

// What to add to `error`, a failure to open cfg.backend's device, when it is
// likely a missing privilege: "" for root (pass geteuid() == 0) or when the
// error already names a capability; else " (not running as root: AF_XDP
// needs CAP_NET_ADMIN, CAP_BPF and CAP_NET_RAW)" or the same for AF_PACKET
// and CAP_NET_RAW.
std::string device_privilege_hint(const stack_config& cfg, std::string_view error, bool root);

// The five flags for a program's --help: flag names indented by two spaces,
// descriptions from column 22, a newline at the end.
inline constexpr std::string_view device_flags_usage =
    R"(  --backend NAME      packet device: af_packet (default: an AF_PACKET socket;
                      root or CAP_NET_RAW) or af_xdp (AF_XDP sockets fed by
                      coronet's XDP program, which passes every other frame
                      on to the kernel; root, or CAP_NET_ADMIN, CAP_BPF
                      and CAP_NET_RAW)
  --xdp-mode MODE     af_xdp: auto (default: native, else generic), native
                      (the driver's XDP) or generic (SKB XDP, any interface)
  --xdp-bind BIND     af_xdp: auto (default: zero-copy, else copy), zerocopy
                      or copy
  --queue N           af_xdp: only RX queue N, 0..1023 (default: every queue)
  --xdp-fill N        af_xdp: RX frames in each fill ring at first, 1..2048
                      (default 2048, the whole ring); a small value (64) keeps
                      request/response traffic on few, warm frames, and the
                      count doubles when frames come faster than one at a time
)";

}  // namespace coronet::net
