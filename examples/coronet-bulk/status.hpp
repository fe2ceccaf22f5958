// examples/coronet-bulk/status.hpp - exit statuses, and how an error of
// either stack maps to one. Both stacks report std::error_code in
// std::generic_category (coronet's net/ does; the kernel's errno is wrapped),
// so one table serves both.
#pragma once

#include <string>
#include <system_error>

namespace coronet::bulk {

enum exit_status : int {
  exit_ok = 0,
  exit_failed = 1,       // anything not listed below (I/O error, a signal)
  exit_usage = 2,        // bad command line, missing interface or privilege
  exit_reset = 3,        // the peer reset the connection (ECONNRESET, EPIPE)
  exit_refused = 4,      // connection refused (RST to our SYN)
  exit_timed_out = 5,    // connect, or --timeout seconds without progress
  exit_unreachable = 6,  // host or network unreachable (ARP failed, no route)
  exit_mismatch = 7,     // --verify-seed: the received bytes differ
};

inline int status_for(std::error_code ec) {
  if (!ec) return exit_ok;
  if (ec == std::errc::connection_reset || ec == std::errc::broken_pipe) return exit_reset;
  if (ec == std::errc::connection_refused) return exit_refused;
  if (ec == std::errc::timed_out) return exit_timed_out;
  if (ec == std::errc::host_unreachable || ec == std::errc::network_unreachable) return exit_unreachable;
  return exit_failed;
}

// A message that names the error the way a test can grep for it.
inline std::string describe(std::error_code ec) {
  if (ec == std::errc::connection_reset) return "connection reset by peer";
  if (ec == std::errc::broken_pipe) return "broken pipe (connection reset by peer)";
  if (ec == std::errc::connection_refused) return "connection refused";
  if (ec == std::errc::timed_out) return "timed out";
  if (ec == std::errc::host_unreachable) return "host unreachable";
  if (ec == std::errc::network_unreachable) return "network unreachable";
  if (ec == std::errc::interrupted) return "interrupted by a signal";
  return ec.message();
}

}  // namespace coronet::bulk
