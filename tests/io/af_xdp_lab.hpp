// tests/io/af_xdp_lab.hpp - what the AF_XDP device and XDP program tests share: the
// lab (scripts/lab.sh, prefix axd, 198.18.8.0/24), opening the device inside it,
// collecting frames, the kernel's traffic, and reading XDP state with libbpf
// (bpf_xdp_query, as `ip link` shows it, never from the device's own word).
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

inline io::af_xdp_config config(io::xdp_mode mode, bool busy_poll = false) {
  return io::af_xdp_config{.ifname = if_co, .addr = coronet_ip, .mode = mode, .busy_poll = busy_poll};
}

// The device's constructor, run inside coronet's namespace (its sockets,
// netlink calls and ifindex belong there).
inline void open_in_lab(std::optional<io::af_xdp>& dev, rt::uring& ring, const io::af_xdp_config& c) {
  in_netns enter(ns_co);
  REQUIRE(enter.entered);
  dev.emplace(ring, c);
}

// The constructor's exception text, or "" when it did not throw.
inline std::string open_error(rt::uring& ring, const io::af_xdp_config& c) {
  in_netns enter(ns_co);
  REQUIRE(enter.entered);
  try {
    io::af_xdp dev(ring, c);
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

// An ARP request "who has `target`, tell 198.18.8.2" (RFC 826).
inline std::size_t write_arp_request(coronet::mut_bytes out, const coronet::mac_addr& me,
                                     const std::uint8_t (&target)[4] = ip_kernel) {
  return coronet::test::write_arp_request(out, me, ip_coronet, target);
}

inline bool is_arp_reply_from_kernel(const std::vector<std::uint8_t>& f, const coronet::mac_addr& me) {
  return f.size() >= 42 && load_be16(&f[12]) == 0x0806 && load_be16(&f[20]) == 2 &&
         std::memcmp(&f[28], ip_kernel, 4) == 0 && std::memcmp(&f[0], me.b.data(), 6) == 0 &&
         std::memcmp(&f[32], me.b.data(), 6) == 0 && std::memcmp(&f[38], ip_coronet, 4) == 0;
}

inline std::size_t arp_replies(const collector& c, const coronet::mac_addr& me) {
  std::size_t n = 0;
  for (const auto& f : c.frames) n += is_arp_reply_from_kernel(f, me) ? 1 : 0;
  return n;
}

// UDP datagrams in IPv4 frames addressed to `dst`.
inline std::size_t udp_to(const collector& c, const std::uint8_t (&dst)[4]) {
  std::size_t n = 0;
  for (const auto& b : c.frames) {
    n += b.size() >= 42 && load_be16(&b[12]) == 0x0800 && b[23] == 17 && std::memcmp(&b[30], dst, 4) == 0 ? 1 : 0;
  }
  return n;
}

// One of the device's for_each_extra counters; nullopt when it has none.
inline std::optional<std::uint64_t> extra(const io::device& d, std::string_view name) {
  std::optional<std::uint64_t> v;
  d.for_each_extra([&](std::string_view n, std::uint64_t x) {
    if (n == name) v = x;
  });
  return v;
}

// The interface's XDP state as netlink reports it (what `ip link` shows).
struct xdp_state {
  bool ok = false;
  std::uint32_t drv_prog_id = 0, skb_prog_id = 0;
  std::uint8_t attach_mode = XDP_ATTACHED_NONE;
  bool none() const { return ok && drv_prog_id == 0 && skb_prog_id == 0 && attach_mode == XDP_ATTACHED_NONE; }
};
inline xdp_state query_xdp() {
  in_netns enter(ns_co);
  REQUIRE(enter.entered);
  xdp_state st;
  const int ifindex = static_cast<int>(::if_nametoindex(if_co));
  REQUIRE(ifindex > 0);
  LIBBPF_OPTS(bpf_xdp_query_opts, q);
  st.ok = bpf_xdp_query(ifindex, 0, &q) == 0;
  st.drv_prog_id = q.drv_prog_id;
  st.skb_prog_id = q.skb_prog_id;
  st.attach_mode = q.attach_mode;
  return st;
}

// The kernel's name for program `id` ("" when it no longer exists).
inline std::string prog_name(std::uint32_t id) {
  int fd = bpf_prog_get_fd_by_id(id);
  if (fd < 0) return {};
  bpf_prog_info info{};
  std::uint32_t len = sizeof info;
  std::string name = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.name : "";
  ::close(fd);
  return name;
}

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
inline std::string bpf_object_path() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (exe.parent_path().parent_path() / "bpf" / "coronet_xdp.bpf.o").string();
}

// A PID that certainly belongs to no process: a child that has exited and
// been reaped.
inline std::uint32_t dead_pid() {
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  REQUIRE(child > 0);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  return static_cast<std::uint32_t>(child);
}

// What a coronet that died while its program was attached by netlink leaves
// behind (ip link set dev IF xdpgeneric obj coronet_xdp.bpf.o): the program in
// SKB mode, its config naming `owner_pid`. Returns the program's id (0 on
// failure). This process keeps no descriptor of it.
inline std::uint32_t attach_coronet_by_netlink(std::uint32_t owner_pid) {
  in_netns enter(ns_co);
  REQUIRE(enter.entered);
  const std::string path = bpf_object_path();
  INFO("object ", path);
  bpf_object* obj = bpf_object__open_file(path.c_str(), nullptr);
  REQUIRE(obj != nullptr);
  std::uint32_t id = 0;
  if (bpf_object__load(obj) == 0) {
    bpf_program* prog = bpf_object__find_program_by_name(obj, io::xdp_program::name);
    bpf_map* cfg = bpf_object__find_map_by_name(obj, "coronet_cfg");
    if (prog != nullptr && cfg != nullptr) {
      struct {
        std::uint32_t addr, owner_pid;  // struct coronet_cfg_value
      } v{htonl(coronet_ip.value), owner_pid};
      std::uint32_t zero = 0;
      const int ifindex = static_cast<int>(::if_nametoindex(if_co));
      if (bpf_map_update_elem(bpf_map__fd(cfg), &zero, &v, BPF_ANY) == 0 &&
          bpf_xdp_attach(ifindex, bpf_program__fd(prog), XDP_FLAGS_SKB_MODE, nullptr) == 0) {
        bpf_prog_info info{};
        std::uint32_t len = sizeof info;
        if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) == 0) id = info.id;
      }
    }
  }
  bpf_object__close(obj);
  return id;
}

// Someone else's XDP program: `r0 = XDP_PASS; exit`, named "not_coronet",
// attached in SKB mode by netlink. Returns its id (0 on failure).
inline std::uint32_t attach_foreign_program() {
  in_netns enter(ns_co);
  REQUIRE(enter.entered);
  const bpf_insn insns[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = XDP_PASS},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "not_coronet", "GPL", insns, 2, nullptr);
  REQUIRE(fd >= 0);
  std::uint32_t id = 0;
  const int ifindex = static_cast<int>(::if_nametoindex(if_co));
  if (bpf_xdp_attach(ifindex, fd, XDP_FLAGS_SKB_MODE, nullptr) == 0) {
    bpf_prog_info info{};
    std::uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) id = info.id;
  }
  ::close(fd);
  return id;
}

inline bool detach_generic() {
  in_netns enter(ns_co);
  REQUIRE(enter.entered);
  return bpf_xdp_detach(static_cast<int>(::if_nametoindex(if_co)), XDP_FLAGS_SKB_MODE, nullptr) == 0;
}

// Sets the lab interface `ifname` in `ns` to `n` RX and TX queues.
inline bool set_channels(const char* ns, const char* ifname, int n) {
  const std::string k = std::to_string(n);
  return std::system(("ip netns exec " + std::string(ns) + " ethtool -L " + ifname + " rx " + k + " tx " + k +
                      " >/dev/null 2>&1")
                         .c_str()) == 0;
}

// The kernel end learns coronet's MAC without ARP (the test device answers none).
inline void kernel_knows_coronet(const coronet::mac_addr& mac) {
  REQUIRE(std::system(("ip -n " + std::string(ns_kn) + " neigh replace 198.18.8.2 lladdr " + mac.to_string() +
                       " dev " + if_kn + " nud permanent")
                          .c_str()) == 0);
}

inline sockaddr_in sockaddr_of(const std::uint8_t (&ip)[4], std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  std::memcpy(&a.sin_addr, ip, 4);
  return a;
}

// A UDP socket made inside namespace `ns` (it stays there).
inline int udp_socket_in(const char* ns) {
  in_netns enter(ns);
  REQUIRE(enter.entered);
  return ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

// Makes the kernel end send every frame on TX queue `q` of its two (XPS:
// every CPU mapped to that queue). In native mode veth hands the frame to
// coronet's RX queue `q` (the peer's RX queue with the sender's TX index).
inline bool kernel_sends_on_queue(int q) {
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return false;
  // /sys/class/net/IF/queues/tx-N/xps_cpus: 32-bit hex groups, highest first.
  std::string all;
  for (int g = (ncpu - 1) / 32; g >= 0; --g) {
    const int bits = std::min(32, ncpu - g * 32);
    char buf[16];
    std::snprintf(buf, sizeof buf, "%x", bits == 32 ? 0xffffffffu : (1u << bits) - 1);
    all += (all.empty() ? "" : ",") + std::string(buf);
  }
  auto set = [](int queue, const std::string& mask) {
    return std::system(("ip netns exec " + std::string(ns_kn) + " sh -c 'echo " + mask + " > /sys/class/net/" +
                        if_kn + "/queues/tx-" + std::to_string(queue) + "/xps_cpus' 2>/dev/null")
                           .c_str()) == 0;
  };
  return set(1 - q, "0") && set(q, all);
}

// Sends `n` one-byte UDP datagrams from the kernel end to coronet, each from
// a new socket (so each picks its TX queue afresh).
inline void kernel_sends_udp(int n) {
  for (int i = 0; i < n; ++i) {
    const int tx = udp_socket_in(ns_kn);
    REQUIRE(tx >= 0);
    const sockaddr_in to = sockaddr_of(ip_coronet, static_cast<std::uint16_t>(9000 + i));
    CHECK(::sendto(tx, "x", 1, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 1);
    ::close(tx);
  }
}

// The device's queues as "0,1", for readable failures.
inline std::string queue_list(const io::af_xdp& d) {
  std::string out;
  for (int q : d.queues()) out += (out.empty() ? "" : ",") + std::to_string(q);
  return out;
}

// How describe() names the XDP mode.
inline const char* mode_text(io::xdp_mode m) {
  return m == io::xdp_mode::generic ? "generic (SKB) XDP" : "native (driver) XDP";
}

#define SKIP_UNLESS_ROOT()                                                    \
  do {                                                                        \
    if (!is_root()) {                                                         \
      MESSAGE("skipped: needs root for the namespace lab and XDP (CAP_BPF)"); \
      return;                                                                 \
    }                                                                         \
  } while (0)

}  // namespace coronet::test::axd
