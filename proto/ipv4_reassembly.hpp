// proto/ipv4_reassembly.hpp - IPv4 fragment reassembly (RFC 791 3.2, RFC 1122
// 3.3.2), with RFC 815-style tracking of the bytes received so far.
// Fragments are keyed by (source, destination, protocol, identification)
// (RFC 791 3.2). Each datagram in progress takes one slot of a pool sized at
// construction from net.ipv4.ipfrag_high_thresh; a slot owns one 65535-byte
// buffer, allocated the first time the slot is used and reused afterwards,
// and a fixed list of received ranges: nothing is allocated per fragment.
// A datagram not complete ipfrag_time after its first fragment is dropped.
// Every fragment is counted (IpReasmReqds), every datagram completed
// (IpReasmOKs) and every datagram or fragment given up under one reason
// (drop.hpp); the .cpp says which rule gives which reason.
// Single-threaded; never reads a clock: callers pass `now`.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "proto/counters.hpp"
#include "proto/settings.hpp"
#include "proto/types.hpp"
#include "proto/wire/ipv4.hpp"

namespace coronet {

class ipv4_reassembly {
 public:
  // The largest IPv4 datagram, header included (RFC 791 3.1: 16-bit total length).
  static constexpr std::size_t max_datagram = 65535;
  // Disjoint received ranges one datagram may have at a time. In-order and
  // reverse-order arrival need one; more only when fragments come shuffled.
  static constexpr std::size_t max_ranges = 32;

  // Holds ipfrag_high_thresh / bytes_per_slot() datagrams at a time
  // (capacity(): 63 with the default 4 MiB); a threshold below one slot
  // disables reassembly, as ipfrag_high_thresh = 0 does in Linux. `stats`
  // must outlive this object.
  ipv4_reassembly(const settings& s, counters& stats);

  // Takes one fragment (`frag.is_fragment()`, addressed to us). Returns the
  // whole datagram once the fragment fills its last hole: a view over a
  // synthetic header (the first fragment's fields, total length of the whole,
  // MF clear, offset 0, no options) and the full payload. The view points into
  // this object and stays valid until the next call to add() or on_timer().
  std::optional<wire::ipv4_view> add(const wire::ipv4_view& frag, time_point now);

  // Drops every datagram whose ipfrag_time has run out (IpReasmTimeout).
  void on_timer(time_point now);
  // When the oldest datagram in progress times out; nullopt when none is.
  std::optional<time_point> next_deadline() const;

  std::size_t in_progress() const { return live_; }  // datagrams being reassembled
  std::size_t capacity() const { return slots_.size(); }  // most at one time
  static std::size_t bytes_per_slot();               // what one slot counts against the threshold

 private:
  struct key {
    ipv4_addr src, dst;
    std::uint8_t proto = 0;
    std::uint16_t id = 0;
    bool operator==(const key&) const = default;
  };
  struct range {  // payload bytes [begin, end) received
    std::uint16_t begin = 0, end = 0;
  };
  struct slot {
    bool in_use = false;
    key k;
    time_point expires{};
    std::uint16_t len = 0;   // payload length: the highest end so far, exact once last_in
    bool last_in = false;    // the fragment with MF clear has arrived (Linux INET_FRAG_LAST_IN)
    std::uint8_t tos = 0, ttl = 0;  // from the fragment at offset 0
    std::uint8_t nranges = 0;
    std::array<range, max_ranges> ranges{};  // sorted, disjoint, not touching
    std::vector<std::uint8_t> buf;  // max_datagram bytes once first used: header, then payload
  };
  enum class insert_result : std::uint8_t { ok, duplicate, overlap, no_room };

  slot* find(const key& k);
  slot* claim(const key& k, time_point now);
  void give_up(slot& s, drop why);
  static insert_result insert(slot& s, range r);
  static bool complete(const slot& s);
  std::optional<wire::ipv4_view> finish(slot& s);

  duration timeout_;
  counters& stats_;
  std::vector<slot> slots_;
  std::size_t live_ = 0;  // slots in use
};

}  // namespace coronet
