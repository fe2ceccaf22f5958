// runtime/clock.hpp - the runtime's clock: std::chrono::steady_clock mapped
// onto coronet::time_point (nanoseconds since steady_clock's epoch).
#pragma once

#include <chrono>

#include "proto/types.hpp"

namespace coronet::rt {

inline time_point steady_now() noexcept {
  auto since = std::chrono::steady_clock::now().time_since_epoch();
  return time_point{std::chrono::duration_cast<duration>(since)};
}

}  // namespace coronet::rt
