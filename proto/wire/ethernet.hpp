// proto/wire/ethernet.hpp - Ethernet II framing (no VLAN tags, no FCS: the
// device hands over and takes frames without it).
#pragma once

#include <cstdint>

#include "proto/result.hpp"
#include "proto/types.hpp"

namespace coronet::wire {

inline constexpr std::size_t ethernet_header_len = 14;

enum class ethertype : std::uint16_t { ipv4 = 0x0800, arp = 0x0806, ipv6 = 0x86dd };

struct ethernet_header {
  mac_addr dst, src;
  std::uint16_t type = 0;  // an ethertype value; others are kept as numbers
  bool operator==(const ethernet_header&) const = default;
};

class ethernet_view {  // never outlives the frame it points into
 public:
  static result<ethernet_view> parse(bytes frame);  // shorter than 14 -> eth_too_short
  ethernet_header header() const;
  bytes payload() const { return frame_.subspan(ethernet_header_len); }

 private:
  explicit ethernet_view(bytes f) : frame_(f) {}
  bytes frame_;
};

// Writes the 14-byte header; returns 14, or 0 if `out` is too small.
std::size_t emit(const ethernet_header& h, mut_bytes out);

}  // namespace coronet::wire
