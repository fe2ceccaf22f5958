// io/pcap_writer.hpp - writes frames to a pcap file (libpcap, DLT_EN10MB),
// for `--pcap` captures readable by tcpdump and Wireshark.
// Timestamps are wall-clock time: the writer reads the real clock when none
// is given.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "proto/types.hpp"

struct pcap;
struct pcap_dumper;

namespace coronet::io {

class pcap_writer {
 public:
  // Throws std::runtime_error naming the path and libpcap's message.
  explicit pcap_writer(const std::string& path);
  ~pcap_writer();  // flushes and closes
  pcap_writer(const pcap_writer&) = delete;
  pcap_writer& operator=(const pcap_writer&) = delete;

  // Records `frame` (up to 65535 bytes kept) stamped `wall`, or now.
  void write(bytes frame, std::optional<std::chrono::system_clock::time_point> wall = std::nullopt);
  void flush();
  std::uint64_t frames() const noexcept { return frames_; }

 private:
  pcap* pcap_ = nullptr;
  pcap_dumper* dumper_ = nullptr;
  std::uint64_t frames_ = 0;
};

}  // namespace coronet::io
