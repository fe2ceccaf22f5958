// net/handshake_steps.hpp - `--steps`: prints each step of every three-way
// handshake with its time in microseconds since that connection's first SYN:
//   198.18.0.1:40000 > 198.18.0.2:7      0.0 us  SYN received
//   198.18.0.1:40000 > 198.18.0.2:7     14.2 us  SYN-ACK sent
//   198.18.0.1:40000 > 198.18.0.2:7     41.0 us  ACK received -> ESTABLISHED
//   198.18.0.1:40000 > 198.18.0.2:7     43.5 us  accept() resumed
// The wire steps come from the engine's segment observer; the last step is a
// hook the application calls when its accept() or connect() resumes.
// Connections are shown client > server whichever side we are.
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string_view>
#include <utility>

#include "proto/engine.hpp"

namespace coronet::net {

class handshake_steps final : public segment_observer {
 public:
  explicit handshake_steps(std::ostream& out) : out_(out) {}

  void on_segment(direction d, time_point now, const segment_summary& s) override;

  // The application's side of the story: accept() or connect() returned the
  // stream for (local, remote). Prints "<what> resumed" and forgets the flow.
  void resumed(endpoint local, endpoint remote, time_point now, std::string_view what);

  std::size_t tracked() const { return flows_.size(); }

 private:
  enum class stage : std::uint8_t { syn_received, synack_sent, syn_sent, synack_received, established };
  struct flow {
    bool server = false;
    stage at = stage::syn_sent;
    time_point t0{};
    std::uint32_t expect_ack = 0;  // server: our ISS + 1; client: the peer's ISS + 1
  };
  using key = std::pair<endpoint, endpoint>;  // (local, remote)
  static constexpr std::size_t max_flows = 4096;

  void print(const key& k, const flow& f, time_point now, std::string_view what);

  std::ostream& out_;
  std::map<key, flow> flows_;
};

}  // namespace coronet::net
