// tests/io/pcap_writer_test.cpp - frames written with pcap_writer read back
// byte for byte through libpcap.
#include <doctest/doctest.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/pcap_writer.hpp"

namespace io = coronet::io;

namespace {
std::string temp_path(const char* tag) {
  return "/tmp/coronet-pcap-" + std::string(tag) + "-" + std::to_string(::getpid()) + ".pcap";
}
}  // namespace

TEST_CASE("pcap_writer: three frames -> read back identical, in order, with their timestamps") {
  const std::string path = temp_path("rt");
  std::vector<std::vector<std::uint8_t>> frames;
  for (int i = 0; i < 3; ++i) {
    std::vector<std::uint8_t> f(60 + i * 700);
    for (std::size_t j = 0; j < f.size(); ++j) f[j] = static_cast<std::uint8_t>(i * 31 + j);
    frames.push_back(f);
  }
  auto t0 = std::chrono::system_clock::time_point{std::chrono::seconds{1'700'000'000}} + std::chrono::microseconds{250};
  {
    io::pcap_writer w(path);
    for (std::size_t i = 0; i < frames.size(); ++i) w.write(frames[i], t0 + std::chrono::seconds{i});
    CHECK(w.frames() == 3);
  }

  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(path.c_str(), err);
  REQUIRE(p != nullptr);
  CHECK(pcap_datalink(p) == DLT_EN10MB);
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    REQUIRE(pcap_next_ex(p, &h, &data) == 1);
    CHECK(h->len == frames[i].size());
    CHECK(h->caplen == frames[i].size());
    CHECK(h->ts.tv_sec == 1'700'000'000 + static_cast<long>(i));
    CHECK(h->ts.tv_usec == 250);
    CHECK(std::vector<std::uint8_t>(data, data + h->caplen) == frames[i]);
  }
  CHECK(pcap_next_ex(p, &h, &data) == PCAP_ERROR_BREAK);  // end of file
  pcap_close(p);
  std::remove(path.c_str());
}

TEST_CASE("pcap_writer: no timestamp given -> wall clock now") {
  const std::string path = temp_path("now");
  auto before = std::chrono::system_clock::now();
  {
    io::pcap_writer w(path);
    std::uint8_t f[64] = {1, 2, 3};
    w.write(f);
  }
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(path.c_str(), err);
  REQUIRE(p != nullptr);
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  REQUIRE(pcap_next_ex(p, &h, &data) == 1);
  CHECK(h->ts.tv_sec >= std::chrono::duration_cast<std::chrono::seconds>(before.time_since_epoch()).count());
  pcap_close(p);
  std::remove(path.c_str());
}

TEST_CASE("pcap_writer: unwritable path -> runtime_error naming the path") {
  const std::string path = "/nonexistent-dir-coronet/x.pcap";
  try {
    io::pcap_writer w(path);
    FAIL("no exception");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find(path) != std::string::npos);
  }
}
