// io/xdp_program.hpp - coronet's XDP program on one interface (the program
// itself: io/bpf/coronet_xdp.bpf.c, built in as bytes; see io/af_xdp.hpp for
// what it steers).
//
// Construction loads it, writes coronet's address and this process's PID into
// its `coronet_cfg` map, and clears the interface of a coronet program that a
// process now gone left attached by netlink (saying so on stderr); it refuses
// one whose owner still runs, and any program that is not coronet's. attach()
// then makes a bpf_link in native or generic mode: the kernel detaches the
// program when the link's last descriptor closes, on any exit.
#pragma once

#include <cstdint>
#include <string>

#include "io/device.hpp"
#include "proto/types.hpp"

struct bpf_object;

namespace coronet::io {

enum class xdp_mode { automatic, native, generic };  // --xdp-mode auto|native|generic
const char* to_string(xdp_mode m) noexcept;          // the --xdp-mode spelling

class xdp_program {
 public:
  static constexpr const char* name = "coronet_xdp";  // as bpftool and ip link show it

  // Throws std::runtime_error ("af_xdp: ...") naming what failed.
  xdp_program(const std::string& ifname, int ifindex, ipv4_addr addr);
  ~xdp_program();  // detaches, unloads
  xdp_program(const xdp_program&) = delete;
  xdp_program& operator=(const xdp_program&) = delete;

  // Attaches in `requested` mode (automatic: native, else generic). Throws.
  void attach(xdp_mode requested);
  // Closes the link: the kernel stops steering frames to coronet's sockets.
  void detach() noexcept;

  xdp_mode mode() const noexcept { return mode_; }            // as attached
  const std::string& mode_notes() const noexcept { return notes_; }  // "native (driver) XDP (...)"
  int xsk_map_fd() const noexcept { return xsks_fd_; }        // RX queue -> socket
  // XdpRedirectIpv4, XdpRedirectArp, XdpPass: the program's per-CPU counters, summed.
  void for_each_counter(const device::extra_fn& fn) const;

 private:
  void load(ipv4_addr addr);
  void remove_stale();

  std::string ifname_;
  int ifindex_;
  bpf_object* obj_ = nullptr;
  int prog_fd_ = -1, xsks_fd_ = -1, cfg_fd_ = -1, cnt_fd_ = -1, link_fd_ = -1;
  xdp_mode mode_ = xdp_mode::native;
  std::string notes_;
};

namespace detail {
// libbpf's and libxdp's messages (the verifier's log, netlink's extack) are
// kept while a guard lives, so errors can quote the last line.
class lib_log_capture {
 public:
  lib_log_capture();
  ~lib_log_capture();
  lib_log_capture(const lib_log_capture&) = delete;
  lib_log_capture& operator=(const lib_log_capture&) = delete;

 private:
  std::string log_;
  std::string* saved_;
  void* bpf_;
  void* xdp_;
};
// The newest capture on this thread's last line, or "" without one.
std::string last_lib_line();
[[noreturn]] void fail(const std::string& what);
[[noreturn]] void fail(const std::string& what, int err);
}  // namespace detail

}  // namespace coronet::io
