// tests/net/trace_test.cpp - the `--trace` line format and the `--steps`
// handshake reporter.
#include <doctest/doctest.h>

#include <sstream>
#include <string>

#include "net/handshake_steps.hpp"
#include "net/trace.hpp"
#include "net_pair.hpp"
#include "proto/wire/tcp.hpp"

using namespace coronet;
using namespace coronet::net;
using namespace coronet::net::test;
namespace f = coronet::wire::tcp_flag;

TEST_CASE("trace: SYN with every option -> one tcpdump-style line") {
  segment_summary s;
  s.src = {make_ipv4(198, 18, 0, 1), 40000};
  s.dst = {make_ipv4(198, 18, 0, 2), 7};
  s.flags = f::syn;
  s.seq = 123;
  s.window = 64240;
  s.mss = 1460;
  s.sack_permitted = true;
  s.tsval = 1;
  s.tsecr = 0;
  s.wscale = 7;
  CHECK(trace_printer::format(segment_observer::direction::in, std::chrono::microseconds(12345678), s) ==
        "12.345678 IN  198.18.0.1.40000 > 198.18.0.2.7: Flags [S], seq 123, win 64240, "
        "options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0");
}

TEST_CASE("trace: data segment with ACK and PSH -> seq range, ack, timestamps after two NOPs") {
  segment_summary s;
  s.src = {make_ipv4(198, 18, 0, 2), 7};
  s.dst = {make_ipv4(198, 18, 0, 1), 40000};
  s.flags = f::ack | f::psh;
  s.seq = 1000;
  s.ack = 2000;
  s.window = 502;
  s.payload_len = 64;
  s.tsval = 10;
  s.tsecr = 9;
  CHECK(trace_printer::format(segment_observer::direction::out, std::chrono::microseconds(5), s) ==
        "0.000005 OUT 198.18.0.2.7 > 198.18.0.1.40000: Flags [P.], seq 1000:1064, ack 2000, win 502, "
        "options [nop,nop,TS val 10 ecr 9], length 64");
}

TEST_CASE("trace: flag letters in tcpdump's order") {
  CHECK(tcp_flags_string(f::syn | f::ack) == "S.");
  CHECK(tcp_flags_string(f::fin | f::ack) == "F.");
  CHECK(tcp_flags_string(f::rst) == "R");
  CHECK(tcp_flags_string(f::ack) == ".");
  CHECK(tcp_flags_string(0) == "none");
}

TEST_CASE("steps: a handshake between two stacks -> every step on each side, in order") {
  net_pair p;
  std::ostringstream server_out, client_out;
  handshake_steps server_steps(server_out), client_steps(client_out);
  p.server.add_observer(&server_steps);
  p.client.add_observer(&client_steps);
  listener l = p.server.listen(7).value();
  p.run([](net_pair& p, listener& l, handshake_steps& ss, handshake_steps& cs) -> rt::task<> {
    connected c = co_await connect_pair(p, l);
    cs.resumed(c.client.local(), c.client.remote(), p.client.now(), "connect()");
    ss.resumed(c.server.local(), c.server.remote(), p.server.now(), "accept()");
  }(p, l, server_steps, client_steps));

  auto in_order = [](const std::string& text, std::initializer_list<const char*> steps) {
    std::size_t at = 0;
    for (const char* s : steps) {
      at = text.find(s, at);
      if (at == std::string::npos) return false;
    }
    return true;
  };
  INFO(server_out.str());
  INFO(client_out.str());
  CHECK(in_order(server_out.str(),
                 {"SYN received", "SYN-ACK sent", "ACK received -> ESTABLISHED", "accept() resumed"}));
  CHECK(in_order(client_out.str(),
                 {"SYN sent", "SYN-ACK received", "ACK sent -> ESTABLISHED", "connect() resumed"}));
  CHECK(server_out.str().find("198.18.0.1:") == 0);  // lines read client > server
  CHECK(server_steps.tracked() == 0);
  CHECK(client_steps.tracked() == 0);
  p.server.remove_observer(&server_steps);
  p.client.remove_observer(&client_steps);
}

TEST_CASE("trace: attached to a stack -> lines for the handshake in both directions") {
  net_pair p;
  std::ostringstream out;
  trace_printer tp(out);
  p.client.add_observer(&tp);
  listener l = p.server.listen(7).value();
  p.run([](net_pair& p, listener& l) -> rt::task<> { (void)co_await connect_pair(p, l); }(p, l));
  p.client.remove_observer(&tp);
  const std::string text = out.str();
  CHECK(text.find("OUT 198.18.0.1.") != std::string::npos);
  CHECK(text.find("Flags [S], seq ") != std::string::npos);
  CHECK(text.find("IN  198.18.0.2.7 > 198.18.0.1.") != std::string::npos);
  CHECK(text.find("Flags [S.]") != std::string::npos);
}
