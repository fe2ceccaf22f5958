// examples/coronet-echo/options.hpp - the command line of coronet-echo.
// Parsed by hand: a mode word first, then flags as `--name value` or
// `--name=value`; --sysctl may repeat and accumulates. The packet-device
// flags (--backend, --xdp-mode, --xdp-bind, --queue) are net/device_flags.hpp's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/stack.hpp"
#include "proto/types.hpp"

namespace coronet::echo {

struct options {
  enum class mode { serve, connect };
  mode what = mode::serve;

  // both modes
  std::string iface;
  ipv4_addr addr;
  int prefix_len = 24;
  net::stack_config device;          // only its device fields: backend, xdp_mode, xdp_bind, queue
  bool busy_poll = false;
  std::optional<ipv4_addr> gateway;
  std::vector<std::string> sysctls;  // NAME=VALUE, in order
  std::string pcap;
  std::string impair;                // an io::impairment spec, checked by parse(); "" = none
  bool trace = false, stats = false, steps = false, quiet = false;

  // serve
  std::uint16_t port = 0;
  int backlog = 128;

  // connect
  endpoint to;
  int count = 1;
  std::size_t size = 64;
  std::optional<std::string> message;
  int linger_ms = 1000;
};

struct parse_outcome {
  std::optional<options> opts;  // set when the command line is good
  bool help = false;            // --help / -h / help: print usage, exit 0
  std::string error;            // otherwise: what is wrong
};

parse_outcome parse(int argc, const char* const* argv);
const std::string& usage();

}  // namespace coronet::echo
