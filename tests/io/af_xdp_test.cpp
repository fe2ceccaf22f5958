// tests/io/af_xdp_test.cpp - the AF_XDP device and its XDP program against the
// kernel on a veth pair (scripts/lab.sh, prefix axd, 198.18.8.0/24). Needs
// root: without it the lab cases say they are skipped and return.
// The test enters the lab's namespaces with setns() for whatever must live
// there (the device's sockets, netlink queries, kernel sockets) and leaves
// them again. XDP state is read with libbpf's bpf_xdp_query, as `ip link`
// shows it, never from the device's own word.
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

namespace io = coronet::io;
namespace rt = coronet::rt;
using namespace std::chrono_literals;
using coronet::bytes;
using coronet::load_be16;
using coronet::store_be16;

namespace {

constexpr const char* ns_co = "axd-co";
constexpr const char* ns_kn = "axd-kn";
constexpr const char* if_co = "axd-co0";
constexpr const char* if_kn = "axd-kn0";
constexpr std::uint8_t ip_kernel[4] = {198, 18, 8, 1};
constexpr std::uint8_t ip_coronet[4] = {198, 18, 8, 2};
constexpr std::uint8_t ip_kernel_co[4] = {198, 18, 8, 4};  // lab.sh --kernel-on-coronet-side
const coronet::ipv4_addr coronet_ip = *coronet::ipv4_addr::parse("198.18.8.2");

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

io::af_xdp_config config(io::xdp_mode mode, bool busy_poll = false) {
  return io::af_xdp_config{.ifname = if_co, .addr = coronet_ip, .mode = mode, .busy_poll = busy_poll};
}

// The device's constructor, run inside coronet's namespace (its sockets,
// netlink calls and ifindex belong there).
void open_in_lab(std::optional<io::af_xdp>& dev, rt::uring& ring, const io::af_xdp_config& c) {
  in_netns enter(ns_co);
  REQUIRE(enter.entered);
  dev.emplace(ring, c);
}

// The constructor's exception text, or "" when it did not throw.
std::string open_error(rt::uring& ring, const io::af_xdp_config& c) {
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
std::size_t write_arp_request(coronet::mut_bytes out, const coronet::mac_addr& me,
                              const std::uint8_t (&target)[4] = ip_kernel) {
  return coronet::test::write_arp_request(out, me, ip_coronet, target);
}

bool is_arp_reply_from_kernel(const std::vector<std::uint8_t>& f, const coronet::mac_addr& me) {
  return f.size() >= 42 && load_be16(&f[12]) == 0x0806 && load_be16(&f[20]) == 2 &&
         std::memcmp(&f[28], ip_kernel, 4) == 0 && std::memcmp(&f[0], me.b.data(), 6) == 0 &&
         std::memcmp(&f[32], me.b.data(), 6) == 0 && std::memcmp(&f[38], ip_coronet, 4) == 0;
}

std::size_t arp_replies(const collector& c, const coronet::mac_addr& me) {
  std::size_t n = 0;
  for (const auto& f : c.frames) n += is_arp_reply_from_kernel(f, me) ? 1 : 0;
  return n;
}

// UDP datagrams in IPv4 frames addressed to `dst`.
std::size_t udp_to(const collector& c, const std::uint8_t (&dst)[4]) {
  std::size_t n = 0;
  for (const auto& b : c.frames) {
    n += b.size() >= 42 && load_be16(&b[12]) == 0x0800 && b[23] == 17 && std::memcmp(&b[30], dst, 4) == 0 ? 1 : 0;
  }
  return n;
}

// One of the device's for_each_extra counters; nullopt when it has none.
std::optional<std::uint64_t> extra(const io::device& d, std::string_view name) {
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
xdp_state query_xdp() {
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
std::string prog_name(std::uint32_t id) {
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
std::string bpf_object_path() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (exe.parent_path().parent_path() / "bpf" / "coronet_xdp.bpf.o").string();
}

// A PID that certainly belongs to no process: a child that has exited and
// been reaped.
std::uint32_t dead_pid() {
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
std::uint32_t attach_coronet_by_netlink(std::uint32_t owner_pid) {
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
std::uint32_t attach_foreign_program() {
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

bool detach_generic() {
  in_netns enter(ns_co);
  REQUIRE(enter.entered);
  return bpf_xdp_detach(static_cast<int>(::if_nametoindex(if_co)), XDP_FLAGS_SKB_MODE, nullptr) == 0;
}

// Sets the lab interface `ifname` in `ns` to `n` RX and TX queues.
bool set_channels(const char* ns, const char* ifname, int n) {
  const std::string k = std::to_string(n);
  return std::system(("ip netns exec " + std::string(ns) + " ethtool -L " + ifname + " rx " + k + " tx " + k +
                      " >/dev/null 2>&1")
                         .c_str()) == 0;
}

// The kernel end learns coronet's MAC without ARP (the test device answers none).
void kernel_knows_coronet(const coronet::mac_addr& mac) {
  REQUIRE(std::system(("ip -n " + std::string(ns_kn) + " neigh replace 198.18.8.2 lladdr " + mac.to_string() +
                       " dev " + if_kn + " nud permanent")
                          .c_str()) == 0);
}

sockaddr_in sockaddr_of(const std::uint8_t (&ip)[4], std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  std::memcpy(&a.sin_addr, ip, 4);
  return a;
}

// A UDP socket made inside namespace `ns` (it stays there).
int udp_socket_in(const char* ns) {
  in_netns enter(ns);
  REQUIRE(enter.entered);
  return ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

// Makes the kernel end send every frame on TX queue `q` of its two (XPS:
// every CPU mapped to that queue). In native mode veth hands the frame to
// coronet's RX queue `q` (the peer's RX queue with the sender's TX index).
bool kernel_sends_on_queue(int q) {
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
void kernel_sends_udp(int n) {
  for (int i = 0; i < n; ++i) {
    const int tx = udp_socket_in(ns_kn);
    REQUIRE(tx >= 0);
    const sockaddr_in to = sockaddr_of(ip_coronet, static_cast<std::uint16_t>(9000 + i));
    CHECK(::sendto(tx, "x", 1, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 1);
    ::close(tx);
  }
}

// The device's queues as "0,1", for readable failures.
std::string queue_list(const io::af_xdp& d) {
  std::string out;
  for (int q : d.queues()) out += (out.empty() ? "" : ",") + std::to_string(q);
  return out;
}

// How describe() names the XDP mode.
const char* mode_text(io::xdp_mode m) {
  return m == io::xdp_mode::generic ? "generic (SKB) XDP" : "native (driver) XDP";
}

#define SKIP_UNLESS_ROOT()                                                    \
  do {                                                                        \
    if (!is_root()) {                                                         \
      MESSAGE("skipped: needs root for the namespace lab and XDP (CAP_BPF)"); \
      return;                                                                 \
    }                                                                         \
  } while (0)

}  // namespace

// --- 1. errors ---------------------------------------------------------------

TEST_CASE("af_xdp: unknown interface -> error names it") {
  rt::uring ring(64, false);
  try {
    io::af_xdp dev(ring, {.ifname = "nosuchif0", .addr = coronet_ip});
    FAIL("no exception");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "af_xdp: interface nosuchif0 not found");
  }
}

TEST_CASE("af_xdp: all-zero address -> invalid_argument") {
  rt::uring ring(64, false);
  CHECK_THROWS_AS(io::af_xdp(ring, {.ifname = "nosuchif0"}), std::invalid_argument);
}

TEST_CASE("af_xdp: --queue beyond the interface's queues -> error names the count; nothing attached") {
  SKIP_UNLESS_ROOT();
  lab l;
  INFO("lab.sh: ", l.error);
  REQUIRE(l.ok);
  rt::uring ring(64, false);
  io::af_xdp_config c = config(io::xdp_mode::generic);
  std::string want;
  SUBCASE("1 queue") {
    c.queue = 1;
    want = "axd-co0 has 1 RX queue (0..0); there is no queue 1";
  }
  SUBCASE("2 queues") {
    if (!set_channels(ns_co, if_co, 2)) {
      MESSAGE("skipped: this kernel's veth refuses 2 queues (ethtool -L rx 2 tx 2)");
      return;
    }
    c.queue = 2;
    want = "axd-co0 has 2 RX queues (0..1); there is no queue 2";
  }
  const std::string err = open_error(ring, c);
  INFO(err);
  CHECK(err.find(want) != std::string::npos);
  CHECK(query_xdp().none());
}

// Binding fails after the program is attached (af_xdp's constructor: attach,
// then UMEM, then sockets), so these also prove the half-built device detaches.
TEST_CASE("af_xdp: forced zero-copy on veth -> clear error, nothing stays attached") {
  SKIP_UNLESS_ROOT();
  lab l;
  INFO("lab.sh: ", l.error);
  REQUIRE(l.ok);
  rt::uring ring(64, false);
  std::string err;
  SUBCASE("native") {
    io::af_xdp_config c = config(io::xdp_mode::native);
    c.bind = io::xdp_bind::zerocopy;
    err = open_error(ring, c);
    INFO(err);
    CHECK(err.find("zero-copy") != std::string::npos);
    CHECK(err.find("axd-co0") != std::string::npos);
  }
  SUBCASE("generic") {
    io::af_xdp_config c = config(io::xdp_mode::generic);
    c.bind = io::xdp_bind::zerocopy;
    err = open_error(ring, c);
    INFO(err);
    CHECK(err.find("zero-copy needs native") != std::string::npos);
  }
  MESSAGE(err);
  const xdp_state st = query_xdp();
  CHECK(st.ok);
  CHECK(st.none());
}

// --- 2. TX kick and RX redirect ------------------------------------------------

TEST_CASE("af_xdp: ARP request to the kernel -> the kernel's reply is redirected to the socket") {
  SKIP_UNLESS_ROOT();
  io::xdp_mode mode = io::xdp_mode::native;
  bool busy = false;
  SUBCASE("native, sleeping") { mode = io::xdp_mode::native; }
  SUBCASE("native, busy-polled") { mode = io::xdp_mode::native; busy = true; }
  SUBCASE("generic, sleeping") { mode = io::xdp_mode::generic; }
  SUBCASE("generic, busy-polled") { mode = io::xdp_mode::generic; busy = true; }
  lab l;
  INFO("lab.sh: ", l.error);
  REQUIRE(l.ok);
  rt::scheduler s({.busy_poll = busy});
  collector sink;
  std::optional<io::af_xdp> dev;
  open_in_lab(dev, s.ring(), config(mode, busy));  // bind: automatic
  const std::string d = dev->describe();
  INFO(d);
  CHECK(dev->mode() == mode);
  CHECK(dev->bind() == io::xdp_bind::copy);  // veth has no zero-copy AF_XDP
  CHECK(queue_list(*dev) == "0");
  CHECK(d.find(mode_text(mode)) != std::string::npos);
  CHECK(d.find("copy mode") != std::string::npos);
  CHECK(d.find(busy ? "busy-polled" : "io_uring poll") != std::string::npos);
  CHECK(dev->mtu() == 1500);
  CHECK_FALSE(dev->mac().is_multicast());
  dev->start(sink);
  // Busy-polled: the loop polls the device (as net::stack does); sleeping:
  // only the device's io_uring poll on the socket delivers.
  std::optional<device_poller> poller;
  if (busy) poller.emplace(s, *dev);

  const auto me = dev->mac();
  auto buf = dev->tx_buffer();
  REQUIRE(buf.size() >= 1514);
  dev->tx_commit(write_arp_request(buf, me));
  dev->flush();
  CHECK(run_until(s, [&] { return arp_replies(sink, me) >= 1; }, 5s));
  CHECK(arp_replies(sink, me) == 1);
  CHECK(dev->stats().tx_frames == 1);
  CHECK(dev->stats().tx_errors == 0);
  CHECK(dev->stats().rx_frames >= 1);
  CHECK(dev->xdp_stats().tx_wakeups >= 1);  // copy mode always asks for the sendto kick
  if (busy) {
    CHECK(dev->xdp_stats().poll_wakeups == 0);  // no IORING_OP_POLL_ADD armed
  } else {
    CHECK(dev->xdp_stats().poll_wakeups >= 1);
  }
  CHECK(extra(*dev, "XdpRedirectArp").value_or(0) >= 1);
}

// --- 3. only coronet's traffic is redirected ----------------------------------

TEST_CASE("af_xdp: kernel owns 198.18.8.4 on the same interface -> its UDP passes, coronet's is redirected") {
  SKIP_UNLESS_ROOT();
  io::xdp_mode mode = io::xdp_mode::native;
  SUBCASE("native") { mode = io::xdp_mode::native; }
  SUBCASE("generic") { mode = io::xdp_mode::generic; }
  lab l(true);
  INFO("lab.sh: ", l.error);
  REQUIRE(l.ok);
  rt::scheduler s;
  collector sink;
  std::optional<io::af_xdp> dev;
  open_in_lab(dev, s.ring(), config(mode));
  dev->start(sink);
  kernel_knows_coronet(dev->mac());

  // The kernel's receiver on coronet's side, and the sender on the far side.
  const int rx = udp_socket_in(ns_co);
  const int tx = udp_socket_in(ns_kn);
  REQUIRE(rx >= 0);
  REQUIRE(tx >= 0);
  const sockaddr_in to_kernel = sockaddr_of(ip_kernel_co, 9000);
  const sockaddr_in to_coronet = sockaddr_of(ip_coronet, 9000);
  REQUIRE(::bind(rx, reinterpret_cast<const sockaddr*>(&to_kernel), sizeof to_kernel) == 0);

  constexpr int n = 5;
  const char payload[] = "coronet af_xdp test";
  for (int i = 0; i < n; ++i) {
    CHECK(::sendto(tx, payload, sizeof payload, 0, reinterpret_cast<const sockaddr*>(&to_coronet),
                   sizeof to_coronet) == static_cast<ssize_t>(sizeof payload));
    CHECK(::sendto(tx, payload, sizeof payload, 0, reinterpret_cast<const sockaddr*>(&to_kernel),
                   sizeof to_kernel) == static_cast<ssize_t>(sizeof payload));
  }
  int kernel_got = 0;
  const bool done = run_until(
      s,
      [&] {
        char buf[64];
        while (::recv(rx, buf, sizeof buf, 0) > 0) ++kernel_got;
        return kernel_got >= n && udp_to(sink, ip_coronet) >= std::size_t{n};
      },
      5s);
  ::close(rx);
  ::close(tx);
  CHECK(done);
  CHECK(kernel_got == n);
  CHECK(udp_to(sink, ip_coronet) == std::size_t{n});
  CHECK(udp_to(sink, ip_kernel_co) == 0);
  // The program's own counters agree: exactly coronet's datagrams were
  // redirected, the kernel's (and the ARP for 198.18.8.4) passed.
  CHECK(extra(*dev, "XdpRedirectIpv4") == std::optional<std::uint64_t>{n});
  CHECK(extra(*dev, "XdpPass").value_or(0) >= std::uint64_t{n});
}

// --- 4. detach -----------------------------------------------------------------

TEST_CASE("af_xdp: device destroyed -> no XDP program remains on the interface") {
  SKIP_UNLESS_ROOT();
  io::xdp_mode mode = io::xdp_mode::native;
  SUBCASE("native") { mode = io::xdp_mode::native; }
  SUBCASE("generic") { mode = io::xdp_mode::generic; }
  lab l;
  INFO("lab.sh: ", l.error);
  REQUIRE(l.ok);
  {
    rt::scheduler s;
    collector sink;
    std::optional<io::af_xdp> dev;
    open_in_lab(dev, s.ring(), config(mode));
    dev->start(sink);
    const xdp_state st = query_xdp();
    REQUIRE(st.ok);
    const std::uint32_t id = mode == io::xdp_mode::native ? st.drv_prog_id : st.skb_prog_id;
    CHECK(id != 0);
    CHECK(st.attach_mode == (mode == io::xdp_mode::native ? XDP_ATTACHED_DRV : XDP_ATTACHED_SKB));
    CHECK(prog_name(id) == io::xdp_program::name);
  }
  const xdp_state after = query_xdp();
  CHECK(after.ok);
  CHECK(after.none());
}

// --- 5. a program left behind ------------------------------------------------

TEST_CASE("af_xdp: coronet's program left by a dead process -> removed at start-up, said on stderr") {
  SKIP_UNLESS_ROOT();
  io::xdp_mode mode = io::xdp_mode::native;
  SUBCASE("device native") { mode = io::xdp_mode::native; }
  SUBCASE("device generic") { mode = io::xdp_mode::generic; }
  lab l;
  INFO("lab.sh: ", l.error);
  REQUIRE(l.ok);
  const std::uint32_t owner = dead_pid();
  const std::uint32_t old_id = attach_coronet_by_netlink(owner);
  REQUIRE(old_id != 0);
  REQUIRE(query_xdp().skb_prog_id == old_id);

  rt::scheduler s;
  std::optional<io::af_xdp> dev;
  std::string said;
  {
    stderr_capture cap;
    open_in_lab(dev, s.ring(), config(mode));
    said = cap.finish();
  }
  INFO(said);
  CHECK(said.find("removed") != std::string::npos);
  CHECK(said.find(std::to_string(owner)) != std::string::npos);
  const xdp_state st = query_xdp();
  CHECK(st.drv_prog_id != old_id);
  CHECK(st.skb_prog_id != old_id);
  const std::uint32_t now_id = mode == io::xdp_mode::native ? st.drv_prog_id : st.skb_prog_id;
  CHECK(now_id != 0);
  CHECK(prog_name(now_id) == io::xdp_program::name);
  dev.reset();
  CHECK(query_xdp().none());
}

TEST_CASE("af_xdp: coronet's program owned by a live process -> refused, left attached") {
  SKIP_UNLESS_ROOT();
  lab l;
  INFO("lab.sh: ", l.error);
  REQUIRE(l.ok);
  const std::uint32_t old_id = attach_coronet_by_netlink(static_cast<std::uint32_t>(::getpid()));
  REQUIRE(old_id != 0);
  rt::uring ring(64, false);
  const std::string err = open_error(ring, config(io::xdp_mode::generic));
  INFO(err);
  CHECK(err.find("still running") != std::string::npos);
  CHECK(err.find(std::to_string(::getpid())) != std::string::npos);
  CHECK(query_xdp().skb_prog_id == old_id);
  CHECK(detach_generic());
  CHECK(query_xdp().none());
}

TEST_CASE("af_xdp: another XDP program on the interface -> refused naming it, left attached") {
  SKIP_UNLESS_ROOT();
  io::xdp_mode mode = io::xdp_mode::native;
  SUBCASE("device native") { mode = io::xdp_mode::native; }
  SUBCASE("device generic") { mode = io::xdp_mode::generic; }
  lab l;
  INFO("lab.sh: ", l.error);
  REQUIRE(l.ok);
  const std::uint32_t old_id = attach_foreign_program();
  REQUIRE(old_id != 0);
  rt::uring ring(64, false);
  const std::string err = open_error(ring, config(mode));
  INFO(err);
  CHECK(err.find("not_coronet") != std::string::npos);
  CHECK(err.find("not coronet's") != std::string::npos);
  const xdp_state st = query_xdp();
  CHECK(st.skb_prog_id == old_id);
  CHECK(st.drv_prog_id == 0);
  CHECK(detach_generic());
  CHECK(query_xdp().none());
}

// --- 6. TX exhaustion --------------------------------------------------------

TEST_CASE("af_xdp: 64 TX frames in flight with ring_size 64 -> tx_buffer empty, counted; back after flush") {
  SKIP_UNLESS_ROOT();
  io::xdp_mode mode = io::xdp_mode::native;
  SUBCASE("native") { mode = io::xdp_mode::native; }
  SUBCASE("generic") { mode = io::xdp_mode::generic; }
  lab l;
  INFO("lab.sh: ", l.error);
  REQUIRE(l.ok);
  rt::scheduler s;
  collector sink;
  std::optional<io::af_xdp> dev;
  io::af_xdp_config c = config(mode);
  c.ring_size = 64;
  open_in_lab(dev, s.ring(), c);
  dev->start(sink);
  device_poller poller(s, *dev);
  const auto me = dev->mac();

  // Two rounds: the second proves all 64 frames of the first came back.
  for (int round = 1; round <= 2; ++round) {
    CAPTURE(round);
    for (int i = 0; i < 64; ++i) {
      auto buf = dev->tx_buffer();
      REQUIRE(!buf.empty());
      dev->tx_commit(write_arp_request(buf, me));
    }
    CHECK(dev->tx_buffer().empty());
    CHECK(dev->stats().tx_ring_full == std::uint64_t(round));
    dev->flush();
    // 64 frames exceed one kick's budget in copy mode (xsk_generic_xmit sends
    // up to 32 per call): the replies prove the device kept kicking.
    const std::size_t want = 64 * std::size_t(round);
    const bool all = run_until(s, [&] { return arp_replies(sink, me) >= want; }, 5s);
    CHECK(all);
    CHECK(arp_replies(sink, me) == want);
    CHECK(dev->stats().tx_errors == 0);
    CHECK(dev->stats().tx_frames == want);
    MESSAGE("round ", round, ": tx_wakeups ", dev->xdp_stats().tx_wakeups, ", tx_retries ",
            dev->xdp_stats().tx_retries);
  }
  CHECK(!dev->tx_buffer().empty());
}

// --- 7. multi-queue ------------------------------------------------------------

TEST_CASE("af_xdp: coronet's end with 2 RX queues -> a socket on each, ARP and UDP still arrive") {
  SKIP_UNLESS_ROOT();
  io::xdp_mode mode = io::xdp_mode::native;
  SUBCASE("native") { mode = io::xdp_mode::native; }
  SUBCASE("generic") { mode = io::xdp_mode::generic; }
  lab l;
  INFO("lab.sh: ", l.error);
  REQUIRE(l.ok);
  // Native XDP on veth wants as many RX queues here as TX queues on the peer.
  if (!set_channels(ns_co, if_co, 2) || !set_channels(ns_kn, if_kn, 2)) {
    MESSAGE("skipped: this kernel's veth refuses 2 queues (ethtool -L rx 2 tx 2)");
    return;
  }
  rt::scheduler s;
  collector sink;
  std::optional<io::af_xdp> dev;
  open_in_lab(dev, s.ring(), config(mode));
  INFO(dev->describe());
  CHECK(queue_list(*dev) == "0,1");
  CHECK(dev->describe().find("queues 0,1") != std::string::npos);
  dev->start(sink);
  const auto me = dev->mac();
  auto buf = dev->tx_buffer();
  REQUIRE(!buf.empty());
  dev->tx_commit(write_arp_request(buf, me));
  dev->flush();
  CHECK(run_until(s, [&] { return arp_replies(sink, me) >= 1; }, 5s));

  // Datagrams sent on the peer's TX queue 1, then on its queue 0 (XPS), so
  // (in native mode) arriving on each RX queue here: all reach the device.
  kernel_knows_coronet(me);
  constexpr int n = 8;
  for (int q : {1, 0}) {
    CAPTURE(q);
    if (!kernel_sends_on_queue(q)) MESSAGE("XPS refused: the kernel picks its TX queues itself");
    kernel_sends_udp(n);
  }
  CHECK(run_until(s, [&] { return udp_to(sink, ip_coronet) >= std::size_t{2 * n}; }, 5s));
  CHECK(udp_to(sink, ip_coronet) == std::size_t{2 * n});
  CHECK(extra(*dev, "XdpRedirectIpv4") == std::optional<std::uint64_t>{2 * n});
}

// Native mode only: on veth's generic (SKB) path every frame reached the XDP
// program with rx_queue_index 0 whatever TX queue the peer used (seen on
// 6.18; the skb still carries the TX index in queue_mapping, which
// netif_get_rxqueue reads as RX queue + 1), so a socket on queue 1 alone
// would never see a frame there.
TEST_CASE("af_xdp: native, --queue 1 of 2 -> frames on queue 1 reach the device, frames on queue 0 the kernel") {
  SKIP_UNLESS_ROOT();
  const io::xdp_mode mode = io::xdp_mode::native;
  lab l;
  INFO("lab.sh: ", l.error);
  REQUIRE(l.ok);
  if (!set_channels(ns_co, if_co, 2) || !set_channels(ns_kn, if_kn, 2) || !kernel_sends_on_queue(1)) {
    MESSAGE("skipped: this kernel's veth refuses 2 queues (ethtool -L rx 2 tx 2) or XPS");
    return;
  }
  rt::scheduler s;
  collector sink;
  std::optional<io::af_xdp> dev;
  io::af_xdp_config c = config(mode);
  c.queue = 1;
  open_in_lab(dev, s.ring(), c);
  INFO(dev->describe());
  CHECK(queue_list(*dev) == "1");
  dev->start(sink);
  const auto me = dev->mac();
  kernel_knows_coronet(me);

  // The kernel answers on its TX queue 1, which is coronet's RX queue 1.
  auto buf = dev->tx_buffer();
  REQUIRE(!buf.empty());
  dev->tx_commit(write_arp_request(buf, me));
  dev->flush();
  CHECK(run_until(s, [&] { return arp_replies(sink, me) >= 1; }, 5s));
  constexpr int n = 8;
  kernel_sends_udp(n);
  CHECK(run_until(s, [&] { return udp_to(sink, ip_coronet) >= std::size_t{n}; }, 5s));
  CHECK(udp_to(sink, ip_coronet) == std::size_t{n});
  CHECK(extra(*dev, "XdpRedirectIpv4") == std::optional<std::uint64_t>{n});

  // Now on queue 0, where coronet has no socket: the program passes them to
  // the kernel (which owns no 198.18.8.2 and drops them) and counts a pass.
  REQUIRE(kernel_sends_on_queue(0));
  const std::uint64_t passed = extra(*dev, "XdpPass").value_or(0);
  kernel_sends_udp(n);
  run_until(s, [&] { return extra(*dev, "XdpPass").value_or(0) >= passed + n; }, 2s);
  CHECK(udp_to(sink, ip_coronet) == std::size_t{n});  // none of the second batch
  CHECK(extra(*dev, "XdpPass").value_or(0) >= passed + n);
  CHECK(extra(*dev, "XdpRedirectIpv4") == std::optional<std::uint64_t>{n});
}
