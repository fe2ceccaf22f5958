// examples/coronet-echo/app.hpp - what both modes share: the scheduler, the
// stack built from the options, and the optional handshake reporter.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "net/handshake_steps.hpp"
#include "net/stack.hpp"
#include "options.hpp"
#include "runtime/scheduler.hpp"

namespace coronet::echo {

// Exit statuses.
inline constexpr int exit_ok = 0, exit_failed = 1, exit_usage = 2;

// The stack's configuration from the options; an error message (bad
// --sysctl, listing valid names) when it cannot be built.
std::optional<net::stack_config> make_config(const options& o, std::string& error);

// Opens the stack and, unless `quiet`, prints the device line on stderr; on
// failure prints a message naming what is missing (the interface, the
// device's capabilities) and returns nullptr.
std::unique_ptr<net::stack> open_stack(rt::scheduler& sched, const net::stack_config& cfg, bool quiet);

int serve(const options& o, const net::stack_config& cfg);
int connect(const options& o, const net::stack_config& cfg);

}  // namespace coronet::echo
