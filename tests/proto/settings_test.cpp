// tests/proto/settings_test.cpp - settings by sysctl name: values, ranges, messages.
#include "proto/settings.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace coronet;
using namespace std::chrono_literals;

namespace {
// Every knob, in declaration order, with its Linux default as sysctl prints it.
const std::vector<std::pair<std::string, std::string>> defaults = {
    {"net.ipv4.tcp_syn_retries", "6"},
    {"net.ipv4.tcp_synack_retries", "5"},
    {"net.ipv4.tcp_max_syn_backlog", "2048"},
    {"net.core.somaxconn", "4096"},
    {"net.ipv4.tcp_syncookies", "1"},
    {"net.ipv4.tcp_abort_on_overflow", "0"},
    {"net.ipv4.ip_local_port_range", "32768\t60999"},
    {"coronet.tcp_rto_initial_ms", "1000"},
    {"coronet.tcp_rto_max_ms", "120000"},
    {"net.ipv4.tcp_timestamps", "1"},
    {"net.ipv4.tcp_window_scaling", "1"},
    {"net.ipv4.tcp_sack", "1"},
    {"net.ipv4.tcp_rmem", "131072"},
    {"net.ipv4.tcp_wmem", "16384"},
    {"coronet.tcp_rto_min_ms", "200"},
    {"net.ipv4.tcp_retries2", "15"},
    {"net.ipv4.tcp_fin_timeout", "60"},
    {"coronet.tcp_time_wait_ms", "60000"},
    {"net.ipv4.tcp_congestion_control", "cubic"},
    {"coronet.tcp_init_cwnd", "10"},
    {"net.ipv4.tcp_reordering", "3"},
    {"net.ipv4.tcp_recovery", "1"},
    {"net.ipv4.tcp_early_retrans", "3"},
    {"net.ipv4.tcp_dsack", "1"},
    {"net.ipv4.tcp_slow_start_after_idle", "1"},
    {"coronet.tcp_delack_ms", "40"},
    {"coronet.tcp_quickacks", "16"},
    {"net.ipv4.tcp_challenge_ack_limit", "2147483647"},
    {"net.ipv4.tcp_invalid_ratelimit", "500"},
    {"net.ipv4.tcp_keepalive_time", "7200"},
    {"net.ipv4.tcp_keepalive_intvl", "75"},
    {"net.ipv4.tcp_keepalive_probes", "9"},
    {"net.ipv4.ip_default_ttl", "64"},
    {"net.ipv4.neigh.default.mcast_solicit", "3"},
    {"net.ipv4.neigh.default.retrans_time_ms", "1000"},
    {"net.ipv4.neigh.default.base_reachable_time_ms", "30000"},
    {"net.ipv4.neigh.default.unres_qlen", "101"},
    {"net.ipv4.ipfrag_time", "30"},
    {"net.ipv4.ipfrag_high_thresh", "4194304"},
};

std::vector<std::string> values(const settings& s) {
  std::vector<std::string> out;
  for (const auto& k : s.list()) out.push_back(k.value);
  return out;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}
}  // namespace

TEST_CASE("settings: list() names every knob in declaration order with the Linux defaults") {
  const settings s;
  const auto l = s.list();
  REQUIRE(l.size() == defaults.size());
  for (std::size_t i = 0; i < l.size(); ++i) {
    CAPTURE(l[i].name);
    CHECK(l[i].name == defaults[i].first);
    CHECK(l[i].value == defaults[i].second);
    CHECK_FALSE(l[i].help.empty());
  }
}

TEST_CASE("settings: every listed value can be set back unchanged") {
  settings s;
  const auto before = values(s);
  for (const auto& k : s.list()) {
    CAPTURE(k.name);
    CHECK(s.set(k.name, k.value) == "");
    CHECK(s.set(k.name + "=" + k.value) == "");
  }
  CHECK(values(s) == before);
}

TEST_CASE("settings: integer knobs take values inside their range") {
  settings s;
  CHECK(s.set("net.ipv4.tcp_syn_retries", "3") == "");
  CHECK(s.tcp_syn_retries == 3);
  CHECK(s.set("net.ipv4.tcp_syn_retries", "0") == "");
  CHECK(s.tcp_syn_retries == 0);
  CHECK(s.set("net.ipv4.tcp_syn_retries", "255") == "");
  CHECK(s.tcp_syn_retries == 255);
  CHECK(s.set("net.ipv4.tcp_synack_retries", "1") == "");
  CHECK(s.tcp_synack_retries == 1);
  CHECK(s.set("net.ipv4.tcp_retries2", "8") == "");
  CHECK(s.tcp_retries2 == 8);
  CHECK(s.set("net.ipv4.tcp_max_syn_backlog", "1") == "");
  CHECK(s.tcp_max_syn_backlog == 1);
  CHECK(s.set("net.core.somaxconn", "128") == "");
  CHECK(s.somaxconn == 128);
  CHECK(s.set("net.ipv4.ip_default_ttl", "255") == "");
  CHECK(s.ip_default_ttl == 255);
  CHECK(s.set("net.ipv4.neigh.default.mcast_solicit", "1") == "");
  CHECK(s.neigh_mcast_solicit == 1);
  CHECK(s.set("net.ipv4.neigh.default.unres_qlen", "0") == "");
  CHECK(s.neigh_unres_qlen == 0);
}

TEST_CASE("settings: surrounding whitespace and a trailing newline are accepted, as sysctl -w does") {
  settings s;
  CHECK(s.set("net.ipv4.tcp_syn_retries", " 2\n") == "");
  CHECK(s.tcp_syn_retries == 2);
  CHECK(s.set("net.ipv4.tcp_syn_retries", "+4") == "");
  CHECK(s.tcp_syn_retries == 4);
}

TEST_CASE("settings: out-of-range or non-numeric values are refused with name, value and range") {
  struct bad {
    const char* name;
    const char* value;
    const char* accepted;
  };
  for (const bad& b : {bad{"net.ipv4.tcp_syn_retries", "256", "0..255"},
                       bad{"net.ipv4.tcp_syn_retries", "-1", "0..255"},
                       bad{"net.ipv4.tcp_syn_retries", "abc", "0..255"},
                       bad{"net.ipv4.tcp_syn_retries", "", "0..255"},
                       bad{"net.ipv4.tcp_syn_retries", "3x", "0..255"},
                       bad{"net.ipv4.tcp_syn_retries", "3 4", "0..255"},
                       bad{"net.ipv4.tcp_syn_retries", "99999999999999999999999", "0..255"},
                       bad{"net.ipv4.tcp_synack_retries", "1000", "0..255"},
                       bad{"net.ipv4.tcp_retries2", "-5", "0..255"},
                       bad{"net.ipv4.tcp_max_syn_backlog", "0", "1..2147483647"},
                       bad{"net.core.somaxconn", "-1", "1..2147483647"},
                       bad{"net.core.somaxconn", "2147483648", "1..2147483647"},
                       bad{"net.ipv4.ip_default_ttl", "0", "1..255"},
                       bad{"net.ipv4.ip_default_ttl", "256", "1..255"},
                       bad{"net.ipv4.neigh.default.unres_qlen", "65536", "0..65535"}}) {
    settings s;
    const auto before = values(s);
    const std::string msg = s.set(b.name, b.value);
    CAPTURE(msg);
    CHECK(contains(msg, b.name));
    CHECK(contains(msg, std::string("'") + b.value + "'"));
    CHECK(contains(msg, b.accepted));
    CHECK(values(s) == before);  // nothing changed
  }
}

TEST_CASE("settings: booleans take 0 or 1 only") {
  settings s;
  CHECK(s.set("net.ipv4.tcp_syncookies", "0") == "");
  CHECK_FALSE(s.tcp_syncookies);
  CHECK(s.set("net.ipv4.tcp_abort_on_overflow", "1") == "");
  CHECK(s.tcp_abort_on_overflow);
  CHECK(s.set("net.ipv4.tcp_timestamps", "0") == "");
  CHECK_FALSE(s.tcp_timestamps);
  CHECK(s.set("net.ipv4.tcp_window_scaling", "0") == "");
  CHECK_FALSE(s.tcp_window_scaling);
  CHECK(s.set("net.ipv4.tcp_sack", "0") == "");
  CHECK_FALSE(s.tcp_sack);
  for (const char* v : {"2", "-1", "true", "yes", ""}) {
    const std::string msg = s.set("net.ipv4.tcp_sack", v);
    CAPTURE(msg);
    CHECK(contains(msg, "net.ipv4.tcp_sack"));
    CHECK(contains(msg, "0 or 1"));
  }
  CHECK_FALSE(s.tcp_sack);
}

TEST_CASE("settings: millisecond knobs take positive milliseconds") {
  settings s;
  CHECK(s.set("coronet.tcp_rto_initial_ms", "250") == "");
  CHECK(s.tcp_rto_initial == 250ms);
  CHECK(s.set("coronet.tcp_rto_max_ms", "5000") == "");
  CHECK(s.tcp_rto_max == 5000ms);
  CHECK(s.set("coronet.tcp_rto_min_ms", "1") == "");
  CHECK(s.tcp_rto_min == 1ms);
  CHECK(s.set("coronet.tcp_time_wait_ms", "10") == "");
  CHECK(s.tcp_time_wait == 10ms);
  CHECK(s.set("net.ipv4.neigh.default.retrans_time_ms", "100") == "");
  CHECK(s.neigh_retrans_time == 100ms);
  CHECK(s.set("net.ipv4.neigh.default.base_reachable_time_ms", "500") == "");
  CHECK(s.neigh_base_reachable_time == 500ms);
  const std::string msg = s.set("coronet.tcp_rto_initial_ms", "0");
  CHECK(contains(msg, "coronet.tcp_rto_initial_ms"));
  CHECK(contains(msg, "milliseconds"));
  CHECK(s.tcp_rto_initial == 250ms);
  CHECK_FALSE(s.set("coronet.tcp_rto_max_ms", "-100").empty());
  CHECK_FALSE(s.set("coronet.tcp_rto_max_ms", "1.5").empty());
}

TEST_CASE("settings: tcp_fin_timeout is set and listed in seconds, like Linux") {
  settings s;
  CHECK(s.set("net.ipv4.tcp_fin_timeout", "30") == "");
  CHECK(s.tcp_fin_timeout == 30000ms);
  CHECK(s.list()[16].value == "30");
  const std::string msg = s.set("net.ipv4.tcp_fin_timeout", "0");
  CHECK(contains(msg, "seconds"));
  CHECK(s.tcp_fin_timeout == 30000ms);
}

TEST_CASE("settings: ip_local_port_range takes \"LOW HIGH\" separated by spaces or tabs") {
  settings s;
  CHECK(s.set("net.ipv4.ip_local_port_range", "1024 2048") == "");
  CHECK(s.ip_local_port_min == 1024);
  CHECK(s.ip_local_port_max == 2048);
  CHECK(s.set("net.ipv4.ip_local_port_range", "40000\t50000") == "");
  CHECK(s.ip_local_port_min == 40000);
  CHECK(s.ip_local_port_max == 50000);
  CHECK(s.set("net.ipv4.ip_local_port_range", "  1 \t 65535\n") == "");
  CHECK(s.ip_local_port_min == 1);
  CHECK(s.ip_local_port_max == 65535);
  CHECK(s.set("net.ipv4.ip_local_port_range", "5000 5000") == "");  // one port
  CHECK(s.ip_local_port_min == 5000);
  CHECK(s.ip_local_port_max == 5000);
  CHECK(s.list()[6].value == "5000\t5000");
}

TEST_CASE("settings: a bad port range is refused and leaves both ends unchanged") {
  settings s;
  for (const char* v : {"2048 1024", "0 100", "1 65536", "1024", "", "1 2 3", "a b", "1024,2048", "-1 10"}) {
    const std::string msg = s.set("net.ipv4.ip_local_port_range", v);
    CAPTURE(msg);
    CHECK(contains(msg, "net.ipv4.ip_local_port_range"));
    CHECK(contains(msg, std::string("'") + v + "'"));
    CHECK(contains(msg, "LOW HIGH"));
    CHECK(s.ip_local_port_min == 32768);
    CHECK(s.ip_local_port_max == 60999);
  }
}

TEST_CASE("settings: tcp_rmem/tcp_wmem take one number or Linux's \"MIN DEFAULT MAX\"") {
  settings s;
  CHECK(s.set("net.ipv4.tcp_rmem", "65536") == "");
  CHECK(s.tcp_rmem == 65536);
  CHECK(s.set("net.ipv4.tcp_rmem", "4096\t87380\t6291456") == "");
  CHECK(s.tcp_rmem == 87380);
  CHECK(s.set("net.ipv4.tcp_wmem", "4096 16384 1048576") == "");
  CHECK(s.tcp_wmem == 16384);
  CHECK(s.tcp_wmem_max == 1048576);  // the autotuning ceiling
  CHECK(s.set("net.ipv4.tcp_wmem", "2097152") == "");  // a default above the max raises the max
  CHECK(s.tcp_wmem_max == 2097152);
  CHECK(s.set("net.ipv4.tcp_wmem", "4096 16384 4194304") == "");
  for (const char* v : {"0", "4096 8192", "8192 4096 16384", "4096 16384 8192", "1 2 3 4", "x"}) {
    const std::string msg = s.set("net.ipv4.tcp_wmem", v);
    CAPTURE(msg);
    CHECK(contains(msg, "net.ipv4.tcp_wmem"));
    CHECK(contains(msg, "MIN DEFAULT MAX"));
  }
  CHECK(s.tcp_wmem == 16384);
}

TEST_CASE("settings: tcp_congestion_control takes a known algorithm's name") {
  settings s;
  CHECK(s.set("net.ipv4.tcp_congestion_control", " reno ") == "");
  CHECK(s.tcp_congestion_control == "reno");
  const std::string msg = s.set("net.ipv4.tcp_congestion_control", "bbr");
  CHECK(contains(msg, "'bbr'"));
  CHECK(contains(msg, "one of: cubic reno"));
  CHECK(s.tcp_congestion_control == "reno");
  CHECK(s.set("net.ipv4.tcp_congestion_control=cubic") == "");
  CHECK(s.tcp_congestion_control == "cubic");
}

TEST_CASE("settings: an unknown name is refused with the list of every valid name") {
  settings s;
  const auto before = values(s);
  const std::string msg = s.set("net.ipv4.tcp_syn_retrys", "3");
  CHECK(contains(msg, "unknown"));
  CHECK(contains(msg, "'net.ipv4.tcp_syn_retrys'"));
  for (const auto& knob : defaults) {
    CAPTURE(knob.first);
    CHECK(contains(msg, knob.first));
  }
  CHECK(values(s) == before);
  CHECK_FALSE(s.set("", "3").empty());
  CHECK_FALSE(s.set("NET.IPV4.TCP_SYN_RETRIES", "3").empty());  // names are case-sensitive, as in /proc
}

TEST_CASE("settings: the slash form of a name works as with sysctl(8)") {
  settings s;
  CHECK(s.set("net/ipv4/tcp_syn_retries", "2") == "");
  CHECK(s.tcp_syn_retries == 2);
  CHECK(s.set("net/ipv4/neigh/default/unres_qlen=7") == "");
  CHECK(s.neigh_unres_qlen == 7);
}

TEST_CASE("settings: set(\"name=value\") splits at the first '='") {
  settings s;
  CHECK(s.set("net.ipv4.tcp_syn_retries=3") == "");
  CHECK(s.tcp_syn_retries == 3);
  CHECK(s.set("net.ipv4.ip_local_port_range=1024 65000") == "");
  CHECK(s.ip_local_port_max == 65000);
  CHECK(s.set(" net.ipv4.tcp_sack = 0") == "");
  CHECK_FALSE(s.tcp_sack);
  const std::string no_eq = s.set("net.ipv4.tcp_syn_retries");
  CHECK(contains(no_eq, "name=value"));
  CHECK(contains(no_eq, "'net.ipv4.tcp_syn_retries'"));
  CHECK(contains(s.set("net.ipv4.tcp_syn_retries="), "net.ipv4.tcp_syn_retries"));
  CHECK(contains(s.set("net.ipv4.tcp_syn_retries=3=4"), "'3=4'"));
  CHECK(contains(s.set("=3"), "unknown"));
  CHECK(s.tcp_syn_retries == 3);
}
