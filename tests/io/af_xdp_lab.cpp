// tests/io/af_xdp_lab.cpp - the helpers af_xdp_lab.hpp declares.
#include "af_xdp_lab.hpp"

namespace coronet::test::axd {

io::af_xdp_config config(io::xdp_mode mode, bool busy_poll) {
  return io::af_xdp_config{.ifname = if_co, .addr = coronet_ip, .mode = mode, .busy_poll = busy_poll};
}

void open_in_lab(std::optional<io::af_xdp>& dev, rt::uring& ring, const io::af_xdp_config& c) {
  in_netns enter(ns_co);
  REQUIRE(enter.entered);
  dev.emplace(ring, c);
}

void start_in_lab(std::optional<io::af_xdp>& dev, rt::scheduler& s, io::rx_sink& sink, const io::af_xdp_config& c) {
  open_in_lab(dev, s.ring(), c);
  dev->start(sink);
}

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

std::size_t write_arp_request(coronet::mut_bytes out, const coronet::mac_addr& me,
                              const std::uint8_t (&target)[4]) {
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

bool kernel_answers_arp(rt::scheduler& s, io::af_xdp& dev, const collector& sink) {
  const auto me = dev.mac();
  auto buf = dev.tx_buffer();
  REQUIRE(!buf.empty());
  dev.tx_commit(write_arp_request(buf, me));
  dev.flush();
  return run_until(s, [&] { return arp_replies(sink, me) >= 1; }, std::chrono::seconds(5));
}

bool is_udp_to(bytes f, const std::uint8_t (&dst)[4]) {
  return f.size() >= 42 && load_be16(&f[12]) == 0x0800 && f[23] == 17 && std::memcmp(&f[30], dst, 4) == 0;
}

std::size_t udp_to(const collector& c, const std::uint8_t (&dst)[4]) {
  std::size_t n = 0;
  for (const auto& b : c.frames) n += is_udp_to(bytes{b.data(), b.size()}, dst) ? 1 : 0;
  return n;
}

std::optional<std::uint64_t> extra(const io::device& d, std::string_view name) {
  std::optional<std::uint64_t> v;
  d.for_each_extra([&](std::string_view n, std::uint64_t x) {
    if (n == name) v = x;
  });
  return v;
}

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

std::string prog_name(std::uint32_t id) {
  int fd = bpf_prog_get_fd_by_id(id);
  if (fd < 0) return {};
  bpf_prog_info info{};
  std::uint32_t len = sizeof info;
  std::string name = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.name : "";
  ::close(fd);
  return name;
}

std::string bpf_object_path() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (exe.parent_path().parent_path() / "bpf" / "coronet_xdp.bpf.o").string();
}

std::uint32_t dead_pid() {
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  REQUIRE(child > 0);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  return static_cast<std::uint32_t>(child);
}

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

bool set_channels(const char* ns, const char* ifname, int n) { return set_channels(ns, ifname, n, n); }

bool set_channels(const char* ns, const char* ifname, int rx, int tx) {
  return std::system(("ip netns exec " + std::string(ns) + " ethtool -L " + ifname + " rx " + std::to_string(rx) +
                      " tx " + std::to_string(tx) + " >/dev/null 2>&1")
                         .c_str()) == 0;
}

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

int udp_socket_in(const char* ns) {
  in_netns enter(ns);
  REQUIRE(enter.entered);
  return ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

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

void kernel_sends_udp(int n) {
  for (int i = 0; i < n; ++i) {
    const int tx = udp_socket_in(ns_kn);
    REQUIRE(tx >= 0);
    const sockaddr_in to = sockaddr_of(ip_coronet, static_cast<std::uint16_t>(9000 + i));
    CHECK(::sendto(tx, "x", 1, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 1);
    ::close(tx);
  }
}

std::string queue_list(const io::af_xdp& d) {
  std::string out;
  for (int q : d.queues()) out += (out.empty() ? "" : ",") + std::to_string(q);
  return out;
}
}  // namespace coronet::test::axd
