// proto/wire/ethernet.cpp - Ethernet II header (IEEE 802.3 clause 3.2, DIX framing).
#include "proto/wire/ethernet.hpp"

#include <cstring>

namespace coronet::wire {

namespace {
mac_addr load_mac(const std::uint8_t* p) {
  mac_addr m;
  std::memcpy(m.b.data(), p, 6);
  return m;
}
}  // namespace

result<ethernet_view> ethernet_view::parse(bytes frame) {
  if (frame.size() < ethernet_header_len) return drop::eth_too_short;
  return ethernet_view(frame);
}

ethernet_header ethernet_view::header() const {
  const std::uint8_t* p = frame_.data();
  return {load_mac(p), load_mac(p + 6), load_be16(p + 12)};
}

std::size_t emit(const ethernet_header& h, mut_bytes out) {
  if (out.size() < ethernet_header_len) return 0;
  std::uint8_t* p = out.data();
  std::memcpy(p, h.dst.b.data(), 6);
  std::memcpy(p + 6, h.src.b.data(), 6);
  store_be16(p + 12, h.type);
  return ethernet_header_len;
}

}  // namespace coronet::wire
