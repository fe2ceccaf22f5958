// proto/settings.hpp - every tunable of the stack. Where Linux exposes the
// same knob as a sysctl, the field carries the Linux default and is set by the
// sysctl's name (`--sysctl net.ipv4.tcp_syn_retries=3`); knobs Linux keeps as
// compile-time constants are named `coronet.*` and cite the constant.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/types.hpp"

namespace coronet {

struct settings {
  using ms = std::chrono::milliseconds;

  // --- TCP connection establishment ---
  int tcp_syn_retries = 6;             // net.ipv4.tcp_syn_retries
  int tcp_synack_retries = 5;          // net.ipv4.tcp_synack_retries
  int tcp_max_syn_backlog = 2048;      // net.ipv4.tcp_max_syn_backlog (SYN queue cap, per listener)
  int somaxconn = 4096;                // net.core.somaxconn (accept queue cap)
  bool tcp_syncookies = true;          // net.ipv4.tcp_syncookies (1: when the SYN queue overflows)
  bool tcp_abort_on_overflow = false;  // net.ipv4.tcp_abort_on_overflow
  std::uint16_t ip_local_port_min = 32768;  // net.ipv4.ip_local_port_range (low)
  std::uint16_t ip_local_port_max = 60999;  // net.ipv4.ip_local_port_range (high)
  ms tcp_rto_initial{1000};            // coronet.tcp_rto_initial_ms (Linux TCP_TIMEOUT_INIT, RFC 6298 2.1)
  ms tcp_rto_max{120000};              // coronet.tcp_rto_max_ms (Linux TCP_RTO_MAX)

  // --- TCP options offered in SYN / SYN-ACK ---
  bool tcp_timestamps = true;          // net.ipv4.tcp_timestamps
  bool tcp_window_scaling = true;      // net.ipv4.tcp_window_scaling
  bool tcp_sack = true;                // net.ipv4.tcp_sack

  // --- Established and teardown ---
  int tcp_rmem = 131072;               // net.ipv4.tcp_rmem (default, middle value): receive buffer bytes
  int tcp_wmem = 16384;                // net.ipv4.tcp_wmem (default, middle value): send buffer bytes
  int tcp_rmem_max = 6291456;          // net.ipv4.tcp_rmem (max, third value): kept, not used (no receive autotuning)
  int tcp_wmem_max = 4194304;          // net.ipv4.tcp_wmem (max, third value): send buffer autotuning ceiling
  ms tcp_rto_min{200};                 // coronet.tcp_rto_min_ms (Linux TCP_RTO_MIN)
  int tcp_retries2 = 15;               // net.ipv4.tcp_retries2
  ms tcp_fin_timeout{60000};           // net.ipv4.tcp_fin_timeout (FIN-WAIT-2 lifetime, seconds in Linux)
  ms tcp_time_wait{60000};             // coronet.tcp_time_wait_ms (Linux TCP_TIMEWAIT_LEN)

  // --- Data transfer: congestion control, loss recovery, ACKs ---
  std::string tcp_congestion_control = "cubic";  // net.ipv4.tcp_congestion_control ("cubic" or "reno")
  int tcp_init_cwnd = 10;              // coronet.tcp_init_cwnd (Linux TCP_INIT_CWND, RFC 6928), segments
  int tcp_reordering = 3;              // net.ipv4.tcp_reordering (duplicate-ACK threshold, RFC 5681 3.2)
  int tcp_recovery = 1;                // net.ipv4.tcp_recovery (bit 0: RACK loss detection, RFC 8985)
  int tcp_early_retrans = 3;           // net.ipv4.tcp_early_retrans (3: tail loss probes, RFC 8985 7)
  bool tcp_dsack = true;               // net.ipv4.tcp_dsack (RFC 2883)
  bool tcp_slow_start_after_idle = true;  // net.ipv4.tcp_slow_start_after_idle (RFC 5681 4.1)
  ms tcp_delack{40};                   // coronet.tcp_delack_ms (Linux TCP_DELACK_MIN): delayed-ACK timer
  int tcp_quickacks = 16;              // coronet.tcp_quickacks (Linux TCP_MAX_QUICKACKS)
  int tcp_challenge_ack_limit = 2147483647;  // net.ipv4.tcp_challenge_ack_limit (per second, whole stack)
  ms tcp_invalid_ratelimit{500};       // net.ipv4.tcp_invalid_ratelimit (per connection, RFC 5961 7)
  ms tcp_keepalive_time{7200000};      // net.ipv4.tcp_keepalive_time (seconds in Linux)
  ms tcp_keepalive_intvl{75000};       // net.ipv4.tcp_keepalive_intvl (seconds in Linux)
  int tcp_keepalive_probes = 9;        // net.ipv4.tcp_keepalive_probes

  // --- IPv4 and ARP ---
  int ip_default_ttl = 64;                    // net.ipv4.ip_default_ttl
  int neigh_mcast_solicit = 3;                // net.ipv4.neigh.default.mcast_solicit
  ms neigh_retrans_time{1000};                // net.ipv4.neigh.default.retrans_time_ms
  ms neigh_base_reachable_time{30000};        // net.ipv4.neigh.default.base_reachable_time_ms
  int neigh_unres_qlen = 101;                 // net.ipv4.neigh.default.unres_qlen (frames queued per unresolved neighbour)
  ms ipfrag_time{30000};                      // net.ipv4.ipfrag_time (seconds in Linux): reassembly timeout
  int ipfrag_high_thresh = 4194304;           // net.ipv4.ipfrag_high_thresh: bytes held for reassembly

  // Not a knob: tests set it to pin every ISN this engine picks (sequence
  // wrap-around during a transfer needs an ISN just below 2^32). SYN cookies
  // still encode their own ISN.
  std::optional<std::uint32_t> test_isn;

  // Sets one knob by name, e.g. set("net.ipv4.tcp_syn_retries", "3").
  // Returns an empty string on success, else a message saying what is wrong
  // (for an unknown name, the message lists every valid name).
  std::string set(std::string_view name, std::string_view value);
  // "name=value" form of set(); `assignment` without '=' is an error.
  std::string set(std::string_view assignment);
  // Every knob's name, value and one-line description, in declaration order.
  struct knob_info {
    std::string name, value, help;
  };
  std::vector<knob_info> list() const;
};

}  // namespace coronet
