// tests/io/af_xdp_lab.hpp - what the AF_XDP device and XDP program tests share: the
// lab (scripts/lab.sh, prefix axd, 198.18.8.0/24), opening the device inside it,
// collecting frames, the kernel's traffic, and reading XDP state with libbpf
// (bpf_xdp_query, as `ip link` shows it, never from the device's own word).
// The functions are in af_xdp_lab.cpp.
#pragma once

#include <doctest/doctest.h>

#include "veth_lab.hpp"
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/af_xdp.hpp"
#include "runtime/scheduler.hpp"
#include "runtime/timer.hpp"


namespace coronet::test::axd {

namespace io = coronet::io;
namespace rt = coronet::rt;
using namespace std::chrono_literals;
using coronet::bytes;
using coronet::load_be16;
using coronet::store_be16;


inline constexpr const char* ns_co = "axd-co";
inline constexpr const char* ns_kn = "axd-kn";
inline constexpr const char* if_co = "axd-co0";
inline constexpr const char* if_kn = "axd-kn0";
inline constexpr std::uint8_t ip_kernel[4] = {198, 18, 8, 1};
inline constexpr std::uint8_t ip_coronet[4] = {198, 18, 8, 2};
inline constexpr std::uint8_t ip_kernel_co[4] = {198, 18, 8, 4};  // lab.sh --kernel-on-coronet-side
inline const coronet::ipv4_addr coronet_ip = *coronet::ipv4_addr::parse("198.18.8.2");

using coronet::test::in_netns;
using coronet::test::is_root;
using coronet::test::run_until;

struct lab : coronet::test::veth_lab {
  explicit lab(bool kernel_on_coronet_side = false)
      : veth_lab("axd", 8, kernel_on_coronet_side ? "--kernel-on-coronet-side" : "") {}
};

struct collector final : io::rx_sink {
  std::vector<std::vector<std::uint8_t>> frames;
  void on_frame(bytes f, coronet::rx_meta) override { frames.emplace_back(f.begin(), f.end()); }
};

// What net::stack does for a device every loop iteration: poll() it, and keep
// a sleeping loop awake while it has frames (or a TX kick) pending.
struct device_poller final : rt::poller {
  device_poller(rt::scheduler& s, io::device& d) : sched(s), dev(d) { sched.add_poller(this); }
  ~device_poller() { sched.remove_poller(this); }
  device_poller(const device_poller&) = delete;
  device_poller& operator=(const device_poller&) = delete;
  void poll(coronet::time_point) override { dev.poll(); }
  std::optional<coronet::time_point> next_deadline() const override {
    if (dev.rx_ready()) return coronet::time_point{};
    return std::nullopt;
  }
  rt::scheduler& sched;
  io::device& dev;
};

io::af_xdp_config config(io::xdp_mode mode, bool busy_poll = false);

// The device's constructor, run inside coronet's namespace (its sockets,
// netlink calls and ifindex belong there).
void open_in_lab(std::optional<io::af_xdp>& dev, rt::uring& ring, const io::af_xdp_config& c);
// open_in_lab, then the device started into `sink`.
void start_in_lab(std::optional<io::af_xdp>& dev, rt::scheduler& s, io::rx_sink& sink, const io::af_xdp_config& c);

// The constructor's exception text, or "" when it did not throw.
std::string open_error(rt::uring& ring, const io::af_xdp_config& c);

// An ARP request "who has `target`, tell 198.18.8.2" (RFC 826).
std::size_t write_arp_request(coronet::mut_bytes out, const coronet::mac_addr& me,
                              const std::uint8_t (&target)[4] = ip_kernel);

bool is_arp_reply_from_kernel(const std::vector<std::uint8_t>& f, const coronet::mac_addr& me);

std::size_t arp_replies(const collector& c, const coronet::mac_addr& me);

// Sends the kernel an ARP request through `dev` (started into `sink`) and runs
// `s` until its reply arrives, 5 s at most: whether it did.
bool kernel_answers_arp(rt::scheduler& s, io::af_xdp& dev, const collector& sink);

// Whether `f` is a UDP datagram in an IPv4 frame addressed to `dst`.
bool is_udp_to(bytes f, const std::uint8_t (&dst)[4]);
// How many of the frames collected are.
std::size_t udp_to(const collector& c, const std::uint8_t (&dst)[4]);

// One of the device's for_each_extra counters; nullopt when it has none.
std::optional<std::uint64_t> extra(const io::device& d, std::string_view name);

// The interface's XDP state as netlink reports it (what `ip link` shows).
struct xdp_state {
  bool ok = false;
  std::uint32_t drv_prog_id = 0, skb_prog_id = 0;
  std::uint8_t attach_mode = XDP_ATTACHED_NONE;
  bool none() const { return ok && drv_prog_id == 0 && skb_prog_id == 0 && attach_mode == XDP_ATTACHED_NONE; }
};
xdp_state query_xdp();

// The kernel's name for program `id` ("" when it no longer exists).
std::string prog_name(std::uint32_t id);

// Catches what this process writes to stderr (the device's "removed ..."
// line) until finish(), which puts stderr back and echoes it there.
struct stderr_capture {
  stderr_capture() {
    std::fflush(stderr);
    saved = ::dup(2);
    file = ::memfd_create("stderr", MFD_CLOEXEC);
    if (saved >= 0 && file >= 0) ::dup2(file, 2);
  }
  ~stderr_capture() { finish(); }
  stderr_capture(const stderr_capture&) = delete;
  stderr_capture& operator=(const stderr_capture&) = delete;
  std::string finish() {
    if (saved < 0) return caught;
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    saved = -1;
    char buf[1024];
    ssize_t n = 0;
    for (off_t at = 0; file >= 0 && (n = ::pread(file, buf, sizeof buf, at)) > 0; at += n) {
      caught.append(buf, static_cast<std::size_t>(n));
    }
    if (file >= 0) ::close(file);
    file = -1;
    std::fputs(caught.c_str(), stderr);
    return caught;
  }
  int saved = -1, file = -1;
  std::string caught;
};

// <build>/bpf/coronet_xdp.bpf.o, from <build>/bin/coronet-tests-io.
std::string bpf_object_path();

// A PID that certainly belongs to no process: a child that has exited and
// been reaped.
std::uint32_t dead_pid();

// What a coronet that died while its program was attached by netlink leaves
// behind (ip link set dev IF xdpgeneric obj coronet_xdp.bpf.o): the program in
// SKB mode, its config naming `owner_pid`. Returns the program's id (0 on
// failure). This process keeps no descriptor of it.
std::uint32_t attach_coronet_by_netlink(std::uint32_t owner_pid);

// Someone else's XDP program: `r0 = XDP_PASS; exit`, named "not_coronet",
// attached in SKB mode by netlink. Returns its id (0 on failure).
std::uint32_t attach_foreign_program();

bool detach_generic();

// Sets the lab interface `ifname` in `ns` to `n` RX and TX queues.
bool set_channels(const char* ns, const char* ifname, int n);
// ethtool -L IF rx RX tx TX, in namespace ns; false if refused.
bool set_channels(const char* ns, const char* ifname, int rx, int tx);

// The kernel end learns coronet's MAC without ARP (the test device answers none).
void kernel_knows_coronet(const coronet::mac_addr& mac);

sockaddr_in sockaddr_of(const std::uint8_t (&ip)[4], std::uint16_t port);

// A UDP socket made inside namespace `ns` (it stays there).
int udp_socket_in(const char* ns);

// Makes the kernel end send every frame on TX queue `q` of its two (XPS:
// every CPU mapped to that queue). In native mode veth hands the frame to
// coronet's RX queue `q` (the peer's RX queue with the sender's TX index).
bool kernel_sends_on_queue(int q);

// Sends `n` one-byte UDP datagrams from the kernel end to coronet, each from
// a new socket (so each picks its TX queue afresh).
void kernel_sends_udp(int n);

// The device's queues as "0,1", for readable failures.
std::string queue_list(const io::af_xdp& d);

// Runs the calling test case once per XDP mode, as the subcases "native"
// and "generic"; returns this run's.
inline io::xdp_mode each_xdp_mode() {
  io::xdp_mode mode = io::xdp_mode::native;
  SUBCASE("native") { mode = io::xdp_mode::native; }
  SUBCASE("generic") { mode = io::xdp_mode::generic; }
  return mode;
}

// How describe() names the XDP mode.
inline const char* mode_text(io::xdp_mode m) {
  return m == io::xdp_mode::generic ? "generic (SKB) XDP" : "native (driver) XDP";
}

#define SKIP_UNLESS_ROOT()                                                    \
  do {                                                                        \
    if (!is_root()) CORONET_SKIP_CASE("needs root for the namespace lab and XDP (CAP_BPF)"); \
  } while (0)

}  // namespace coronet::test::axd
