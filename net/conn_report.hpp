// net/conn_report.hpp - one connection's state and counters in the shape of
// `ss -tin`: state and endpoints, then congestion control, RTT, windows,
// buffers and the loss-recovery counters, one labelled field each.
#pragma once

#include <iosfwd>

#include "proto/engine.hpp"

namespace coronet::net {

// Writes the report (several lines, each indented but the first).
void print_conn_info(std::ostream& out, const conn_info& i);

}  // namespace coronet::net
