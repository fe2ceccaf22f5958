// net/error.hpp - what net/ reports: std::error_code in std::generic_category,
// so code written for Asio (which compares against std::errc) keeps working.
//   connection_refused   RST in answer to our SYN
//   timed_out            SYN (or data) retransmissions ran out
//   host_unreachable     ARP got no answer for the next hop
//   network_unreachable  no route: off the subnet and no gateway
//   connection_reset     the peer reset an established connection
//   operation_canceled   the awaiting task's stop token fired, or the
//                        listener/stream was closed under a pending operation
//   address_in_use       listen() on a port that already has a listener
//   address_not_available no ephemeral port free
//   broken_pipe          write() after shutdown() or after the connection ended
#pragma once

#include <system_error>

#include "proto/result.hpp"

namespace coronet::net {

// A value or a std::error_code: coronet::result with E = std::error_code.
template <class T>
using result = coronet::result<T, std::error_code>;

inline std::error_code make_error(std::errc e) { return std::make_error_code(e); }

}  // namespace coronet::net
