// tests/net/device_flags_test.cpp - the packet-device flags every program
// shares: names, accepted values, error messages, and the cross-check.
#include <doctest/doctest.h>

#include <string>

#include "net/device_flags.hpp"
#include "net/stack.hpp"

using namespace coronet;
using namespace coronet::net;

namespace {
bool mentions(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("device flags: the five names, without dashes, and nothing else") {
  CHECK(is_device_flag("backend"));
  CHECK(is_device_flag("xdp-mode"));
  CHECK(is_device_flag("xdp-bind"));
  CHECK(is_device_flag("queue"));
  CHECK(is_device_flag("xdp-fill"));
  CHECK_FALSE(is_device_flag("--backend"));
  CHECK_FALSE(is_device_flag("iface"));
  CHECK_FALSE(is_device_flag("xdp_mode"));
  CHECK_FALSE(is_device_flag(""));
}

TEST_CASE("device flags: defaults are af_packet, auto, auto, every queue, the whole ring, and pass the check") {
  stack_config c;
  CHECK(c.backend == "af_packet");
  CHECK(c.xdp_mode == io::xdp_mode::automatic);
  CHECK(c.xdp_bind == io::xdp_bind::automatic);
  CHECK(c.queue == -1);
  CHECK(c.xdp_fill == 0);
  CHECK(check_device_flags(c).empty());
}

TEST_CASE("--backend: af_packet and af_xdp are stored") {
  stack_config c;
  CHECK(set_device_flag(c, "backend", "af_xdp").empty());
  CHECK(c.backend == "af_xdp");
  CHECK(set_device_flag(c, "backend", "af_packet").empty());
  CHECK(c.backend == "af_packet");
}

TEST_CASE("--backend: an unknown name -> error naming it and the choices, config unchanged") {
  stack_config c;
  for (const char* bad : {"dpdk", "", "AF_XDP", "af_xdp "}) {
    std::string e = set_device_flag(c, "backend", bad);
    CHECK(mentions(e, "--backend"));
    CHECK(mentions(e, "'" + std::string(bad) + "'"));
    CHECK(mentions(e, "af_packet, af_xdp"));
  }
  CHECK(c.backend == "af_packet");
}

TEST_CASE("--xdp-mode: auto, native, generic") {
  stack_config c;
  CHECK(set_device_flag(c, "xdp-mode", "native").empty());
  CHECK(c.xdp_mode == io::xdp_mode::native);
  CHECK(set_device_flag(c, "xdp-mode", "generic").empty());
  CHECK(c.xdp_mode == io::xdp_mode::generic);
  CHECK(set_device_flag(c, "xdp-mode", "auto").empty());
  CHECK(c.xdp_mode == io::xdp_mode::automatic);
}

TEST_CASE("--xdp-mode: a bad value -> error naming the flag, the value and the choices") {
  stack_config c;
  c.xdp_mode = io::xdp_mode::generic;
  std::string e = set_device_flag(c, "xdp-mode", "skb");
  CHECK(e == "--xdp-mode takes auto, native or generic; got 'skb'");
  CHECK(c.xdp_mode == io::xdp_mode::generic);
  CHECK_FALSE(set_device_flag(c, "xdp-mode", "automatic").empty());
}

TEST_CASE("--xdp-bind: auto, zerocopy, copy") {
  stack_config c;
  CHECK(set_device_flag(c, "xdp-bind", "zerocopy").empty());
  CHECK(c.xdp_bind == io::xdp_bind::zerocopy);
  CHECK(set_device_flag(c, "xdp-bind", "copy").empty());
  CHECK(c.xdp_bind == io::xdp_bind::copy);
  CHECK(set_device_flag(c, "xdp-bind", "auto").empty());
  CHECK(c.xdp_bind == io::xdp_bind::automatic);
}

TEST_CASE("--xdp-bind: a bad value -> error naming the flag, the value and the choices") {
  stack_config c;
  CHECK(set_device_flag(c, "xdp-bind", "zero-copy") == "--xdp-bind takes auto, zerocopy or copy; got 'zero-copy'");
  CHECK(c.xdp_bind == io::xdp_bind::automatic);
}

TEST_CASE("--queue: 0..1023 are stored") {
  stack_config c;
  CHECK(set_device_flag(c, "queue", "0").empty());
  CHECK(c.queue == 0);
  CHECK(set_device_flag(c, "queue", "1023").empty());
  CHECK(c.queue == 1023);
  CHECK(set_device_flag(c, "queue", "7").empty());
  CHECK(c.queue == 7);
}

TEST_CASE("--queue: negative, too large, not a number, trailing text -> error, queue unchanged") {
  stack_config c;
  for (const char* bad : {"-1", "1024", "99999999999", "", "x", "3x", " 3", "+3", "0x3"}) {
    std::string e = set_device_flag(c, "queue", bad);
    CHECK_MESSAGE(e == "--queue takes an RX queue number 0..1023; got '" + std::string(bad) + "'", bad);
  }
  CHECK(c.queue == -1);
}

TEST_CASE("--xdp-fill: 1..2048 are stored") {
  stack_config c;
  for (int n : {1, 64, 2048}) {
    CHECK(set_device_flag(c, "xdp-fill", std::to_string(n)).empty());
    CHECK(c.xdp_fill == n);
  }
}

TEST_CASE("--xdp-fill: 0, too large, negative, not a number -> error, value unchanged") {
  stack_config c;
  for (const char* bad : {"0", "2049", "-1", "", "x", "64k", " 64"}) {
    std::string e = set_device_flag(c, "xdp-fill", bad);
    CHECK_MESSAGE(e == "--xdp-fill takes a number of RX frames 1..2048; got '" + std::string(bad) + "'", bad);
  }
  CHECK(c.xdp_fill == 0);
}

TEST_CASE("set_device_flag: a name that is not a device flag -> error") {
  stack_config c;
  CHECK(mentions(set_device_flag(c, "iface", "veth0"), "--iface"));
}

TEST_CASE("check: any xdp flag or --queue with af_packet -> error naming the flag and --backend af_xdp") {
  SUBCASE("--xdp-mode") {
    stack_config c;
    REQUIRE(set_device_flag(c, "xdp-mode", "native").empty());
    CHECK(check_device_flags(c) == "--xdp-mode needs --backend af_xdp (the backend is af_packet)");
  }
  SUBCASE("--xdp-bind") {
    stack_config c;
    REQUIRE(set_device_flag(c, "xdp-bind", "copy").empty());
    CHECK(check_device_flags(c) == "--xdp-bind needs --backend af_xdp (the backend is af_packet)");
  }
  SUBCASE("--queue") {
    stack_config c;
    REQUIRE(set_device_flag(c, "queue", "0").empty());
    CHECK(check_device_flags(c) == "--queue needs --backend af_xdp (the backend is af_packet)");
  }
  SUBCASE("--xdp-fill") {
    stack_config c;
    REQUIRE(set_device_flag(c, "xdp-fill", "64").empty());
    CHECK(check_device_flags(c) == "--xdp-fill needs --backend af_xdp (the backend is af_packet)");
  }
}

TEST_CASE("check: every xdp flag with af_xdp, in any order -> no error") {
  stack_config c;
  REQUIRE(set_device_flag(c, "queue", "2").empty());
  REQUIRE(set_device_flag(c, "xdp-fill", "64").empty());
  REQUIRE(set_device_flag(c, "xdp-bind", "copy").empty());
  REQUIRE(set_device_flag(c, "xdp-mode", "generic").empty());
  REQUIRE(set_device_flag(c, "backend", "af_xdp").empty());
  CHECK(check_device_flags(c).empty());
  CHECK(c.queue == 2);
  CHECK(c.xdp_fill == 64);
  CHECK(c.xdp_bind == io::xdp_bind::copy);
  CHECK(c.xdp_mode == io::xdp_mode::generic);
}

TEST_CASE("usage text names every flag and every value") {
  const std::string u(device_flags_usage);
  for (const char* s : {"--backend", "af_packet", "af_xdp", "--xdp-mode", "native", "generic", "--xdp-bind",
                        "zerocopy", "copy", "--queue", "0..1023", "--xdp-fill", "1..2048", "CAP_NET_RAW", "CAP_BPF"})
    CHECK_MESSAGE(mentions(u, s), s);
  CHECK(u.back() == '\n');
}

TEST_CASE("privilege hint: as root -> nothing to add") {
  stack_config packet, xdp;
  xdp.backend = "af_xdp";
  CHECK(device_privilege_hint(packet, "socket: Operation not permitted", true).empty());
  CHECK(device_privilege_hint(xdp, "bpf: Operation not permitted", true).empty());
}

TEST_CASE("privilege hint: not root -> the backend's capabilities, unless the error names them") {
  stack_config packet, xdp;
  xdp.backend = "af_xdp";
  CHECK(device_privilege_hint(packet, "socket: Operation not permitted", false) ==
        " (not running as root: AF_PACKET needs CAP_NET_RAW)");
  CHECK(device_privilege_hint(packet, "socket: needs CAP_NET_RAW", false).empty());
  CHECK(device_privilege_hint(xdp, "bpf: Operation not permitted", false) ==
        " (not running as root: AF_XDP needs CAP_NET_ADMIN, CAP_BPF and CAP_NET_RAW)");
  CHECK(device_privilege_hint(xdp, "load: needs CAP_BPF", false).empty());
  CHECK(device_privilege_hint(xdp, "an AF_XDP socket needs CAP_NET_RAW (run as root)", false).empty());
  CHECK(device_privilege_hint(xdp, "UMEM: it needs CAP_IPC_LOCK or an RLIMIT_MEMLOCK", false).empty());
  CHECK(device_privilege_hint(xdp, "attach: needs CAP_NET_ADMIN", false).empty());
}
