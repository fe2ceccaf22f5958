// io/pcap_writer.cpp - libpcap's dumper behind a small class.
#include "io/pcap_writer.hpp"

#include <pcap/pcap.h>

#include <algorithm>
#include <stdexcept>

namespace coronet::io {

namespace {
constexpr int snaplen = 65535;
}

pcap_writer::pcap_writer(const std::string& path) {
  pcap_ = pcap_open_dead(DLT_EN10MB, snaplen);
  if (pcap_ == nullptr) throw std::runtime_error("pcap_writer: " + path + ": pcap_open_dead failed");
  dumper_ = pcap_dump_open(pcap_, path.c_str());
  if (dumper_ == nullptr) {
    std::string msg = pcap_geterr(pcap_);
    pcap_close(pcap_);
    throw std::runtime_error("pcap_writer: cannot open " + path + ": " + msg);
  }
}

pcap_writer::~pcap_writer() {
  pcap_dump_flush(dumper_);
  pcap_dump_close(dumper_);
  pcap_close(pcap_);
}

void pcap_writer::write(bytes frame, std::optional<std::chrono::system_clock::time_point> wall) {
  auto t = wall.value_or(std::chrono::system_clock::now());
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  pcap_pkthdr h{};
  h.ts.tv_sec = static_cast<time_t>(us / 1'000'000);
  h.ts.tv_usec = static_cast<suseconds_t>(us % 1'000'000);
  h.len = static_cast<bpf_u_int32>(frame.size());
  h.caplen = static_cast<bpf_u_int32>(std::min<std::size_t>(frame.size(), snaplen));
  pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, frame.data());
  ++frames_;
}

void pcap_writer::flush() { pcap_dump_flush(dumper_); }

}  // namespace coronet::io
