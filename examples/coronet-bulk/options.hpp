// examples/coronet-bulk/options.hpp - the command line of coronet-bulk.
// Parsed by hand, as coronet-echo does: flags as `--name value` or
// `--name=value`; --sysctl may repeat and accumulates. A flag that belongs to
// the other stack is a usage error, so a script cannot believe it set
// something that was silently ignored. The packet-device flags (--backend,
// --xdp-mode, --xdp-bind, --queue) are net/device_flags.hpp's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/stack.hpp"
#include "proto/types.hpp"

namespace coronet::bulk {

enum class stack_kind { coronet, kernel };

struct options {
  stack_kind stack = stack_kind::kernel;
  std::optional<std::uint16_t> listen_port;  // --listen PORT
  std::optional<endpoint> connect_to;        // --connect IP:PORT
  int count = 1;                             // --listen: connections to serve, one after another

  // The transfer, on both stacks.
  std::uint64_t send_bytes = 0;
  std::uint64_t seed = 1;
  bool hash = true;                           // --no-hash turns SHA-256 off (benchmarks)
  std::optional<std::uint64_t> verify_seed;   // compare what arrives with that seed's stream
  std::optional<std::uint64_t> reset_after;   // abort (RST) after this many bytes either way
  std::uint32_t read_delay_us = 0;            // sleep between reads: a slow reader
  std::optional<std::uint64_t> stall_after;   // stop reading once, after this many bytes...
  int stall_ms = 0;                           // ...for this long: the peer meets a zero window
  int timeout_s = 60;                         // no progress for this long -> timed out (0: never)
  bool stats = false;

  // --stack coronet
  std::string iface;
  std::optional<ipv4_addr> addr;
  int prefix_len = 24;
  net::stack_config device;          // only its device fields: backend, xdp_mode, xdp_bind, queue
  std::optional<ipv4_addr> gateway;
  std::vector<std::string> sysctls;  // NAME=VALUE, in order
  bool busy_poll = false;
  std::string impair;  // io/impaired_device.hpp spec
  std::string pcap;
  int linger_ms = 200;  // keep the stack running after the last close

  // --stack kernel
  std::optional<int> rcvbuf, sndbuf;  // SO_RCVBUF / SO_SNDBUF before listen/connect
  bool nodelay = false;               // TCP_NODELAY
};

struct parse_outcome {
  std::optional<options> opts;  // set when the command line is good
  bool help = false;            // --help / -h: print usage, exit 0
  std::string error;            // otherwise: what is wrong
};

parse_outcome parse(int argc, const char* const* argv);
const std::string& usage();

// "123", "64K", "64M", "1G" (binary multiples) -> bytes; nullopt when malformed.
std::optional<std::uint64_t> parse_size(std::string_view text);

}  // namespace coronet::bulk
