// examples/coronet-bulk/app.hpp - the two stacks' drivers. Each runs the
// connections the options ask for, prints one result line per connection
// (transfer::print) and returns the exit status (status.hpp).
#pragma once

#include "options.hpp"

namespace coronet::bulk {

// Read and write sizes per call: large enough that syscalls and wake-ups are
// a small share of the cost at several Gbit/s.
inline constexpr std::size_t kernel_chunk = 256 * 1024;
inline constexpr std::size_t coronet_chunk = 64 * 1024;

int run_kernel(const options& o);   // kernel.cpp: non-blocking sockets and poll(2)
int run_coronet(const options& o);  // coronet.cpp: net::stack on the scheduler

}  // namespace coronet::bulk
