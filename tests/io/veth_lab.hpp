// tests/io/veth_lab.hpp - what the device tests that cross a veth pair share:
// the lab (scripts/lab.sh) for one test case, entering its namespaces with
// setns(), running the loop until a condition holds, and an ARP request built
// by hand. Needs root; callers check is_root() and skip without it
// (CORONET_SKIP_CASE, which fails instead under CORONET_REQUIRE_LAB=1).
#pragma once

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>

#include "proto/types.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/timer.hpp"

namespace coronet::test {

inline bool is_root() { return ::geteuid() == 0; }

// CORONET_REQUIRE_LAB=1 (scripts/test.sh as root, so CI): every case is meant
// to run here, and one that would skip fails instead.
inline bool lab_required() {
  const char* v = std::getenv("CORONET_REQUIRE_LAB");
  return v != nullptr && std::strcmp(v, "1") == 0;
}

// Ends the test case as skipped, saying why - or fails it where every case is
// meant to run (lab_required()).
#define CORONET_SKIP_CASE(why)                                                   \
  do {                                                                           \
    if (::coronet::test::lab_required()) FAIL("would skip, but CORONET_REQUIRE_LAB=1: " << why); \
    MESSAGE("skipped: " << why);                                                 \
    return;                                                                      \
  } while (0)

inline std::string lab_script() {
  if (const char* p = std::getenv("CORONET_LAB_SH")) return p;
  // tests/io/veth_lab.hpp -> scripts/lab.sh
  auto root = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
  return (root / "scripts" / "lab.sh").string();
}

// Brings the lab `prefix` (198.18.net.0/24) up for one test case and always
// takes it down; `options` go to lab.sh up. `error` keeps what lab.sh said on
// stderr when it failed. Every build directory's copy of a test binary uses
// the same namespaces and two may run at once: they take turns through an
// flock, waiting two minutes at most. Without the lock nothing is set up or
// taken down (the other holder's lab stays whole) and `ok` is false.
class veth_lab {
 public:
  veth_lab(const std::string& prefix, int net, const std::string& options) : prefix_(prefix) {
    const std::string lock_path = "/tmp/coronet-lab-" + prefix + ".lock";
    lock_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_ < 0) {
      error = "cannot open " + lock_path + ": " + std::strerror(errno);
      return;
    }
    bool locked = false;
    for (int i = 0; i < 1200 && !(locked = ::flock(lock_, LOCK_EX | LOCK_NB) == 0); ++i) ::usleep(100'000);
    if (!locked) {
      error = "another test held " + lock_path + " for two minutes";
      ::close(lock_);
      lock_ = -1;
      return;
    }
    owns_ = true;
    const std::string cmd = "bash " + lab_script() + " up --prefix " + prefix + " --net " + std::to_string(net) +
                            " " + options + " 2>&1 >/dev/null";
    if (FILE* f = ::popen(cmd.c_str(), "r")) {
      char buf[256];
      while (std::fgets(buf, sizeof buf, f) != nullptr) error += buf;
      ok = ::pclose(f) == 0;
    }
  }
  ~veth_lab() {
    if (owns_) std::system(("bash " + lab_script() + " down --prefix " + prefix_ + " >/dev/null 2>&1").c_str());
    if (lock_ >= 0) ::close(lock_);  // releases the flock
  }
  veth_lab(const veth_lab&) = delete;
  veth_lab& operator=(const veth_lab&) = delete;

  bool ok = false;
  std::string error;

 private:
  std::string prefix_;
  int lock_ = -1;
  bool owns_ = false;  // holds the lock: sets the lab up and takes it down
};

// Moves this thread into a named network namespace until destroyed (a socket
// stays in the namespace it was created in).
struct in_netns {
  explicit in_netns(const char* name) {
    orig = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int target = ::open((std::string("/var/run/netns/") + name).c_str(), O_RDONLY | O_CLOEXEC);
    entered = orig >= 0 && target >= 0 && ::setns(target, CLONE_NEWNET) == 0;
    if (target >= 0) ::close(target);
  }
  ~in_netns() {
    if (entered) ::setns(orig, CLONE_NEWNET);
    if (orig >= 0) ::close(orig);
  }
  in_netns(const in_netns&) = delete;
  in_netns& operator=(const in_netns&) = delete;
  int orig = -1;
  bool entered = false;
};

// Runs the loop until `done()` or `limit` passes; false on timeout.
inline bool run_until(rt::scheduler& s, std::function<bool()> done, duration limit) {
  return s.block_on([](rt::scheduler& s, std::function<bool()> done, duration limit) -> rt::task<bool> {
    const auto deadline = s.now() + limit;
    while (!done()) {
      if (s.now() > deadline) co_return false;
      co_await rt::sleep_for(std::chrono::microseconds(200));
    }
    co_return true;
  }(s, std::move(done), limit));
}

// An ARP request "who has `target`, tell `sender`" from `me` (RFC 826),
// padded to the 60-byte minimum.
inline std::size_t write_arp_request(mut_bytes out, const mac_addr& me, const std::uint8_t (&sender)[4],
                                     const std::uint8_t (&target)[4]) {
  std::uint8_t* p = out.data();
  std::memset(p, 0xff, 6);
  std::memcpy(p + 6, me.b.data(), 6);
  store_be16(p + 12, 0x0806);
  store_be16(p + 14, 1);       // hardware: Ethernet
  store_be16(p + 16, 0x0800);  // protocol: IPv4
  p[18] = 6;
  p[19] = 4;
  store_be16(p + 20, 1);  // request
  std::memcpy(p + 22, me.b.data(), 6);
  std::memcpy(p + 28, sender, 4);
  std::memset(p + 32, 0, 6);
  std::memcpy(p + 38, target, 4);
  std::memset(p + 42, 0, 18);
  return 60;
}

}  // namespace coronet::test
