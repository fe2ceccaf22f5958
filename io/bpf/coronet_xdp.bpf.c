// io/bpf/coronet_xdp.bpf.c - coronet's XDP program: frames that belong to
// coronet go to its AF_XDP socket on the queue they arrived on; every other
// frame passes to the kernel untouched, so both share the interface.
//
// Coronet's frames: IPv4 addressed to coronet's address, and ARP (Ethernet,
// IPv4) whose target protocol address is coronet's (requests for it and
// replies to its own requests). The address and the owning process's PID sit
// in the one-entry array `coronet_cfg`, written by io/af_xdp.cpp before the
// program is attached; the PID lets a later start-up tell a program left by a
// dead coronet from one a running coronet owns.
//
// Built by CMake with clang's BPF target and linked into libcoronet_io as a
// byte array (io/af_xdp.cpp loads it with bpf_object__open_mem).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

// Shared with io/af_xdp.cpp (struct xdp_program_config there).
struct coronet_cfg_value {
  __u32 addr;       // coronet's IPv4 address, network byte order
  __u32 owner_pid;  // the process that attached the program
};

// Counters, per CPU (no atomics on the fast path); read by io/af_xdp.cpp.
enum { CNT_REDIRECT_IPV4 = 0, CNT_REDIRECT_ARP = 1, CNT_PASS = 2, CNT_MAX = 3 };

struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(max_entries, 1024);  // RX queue index -> AF_XDP socket
  __type(key, __u32);
  __type(value, __u32);
} coronet_xsks SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct coronet_cfg_value);
} coronet_cfg SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, CNT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} coronet_cnt SEC(".maps");

// An Ethernet/IPv4 ARP packet (RFC 826). Spelled out here: linux/if_arp.h
// pulls in libc headers that the BPF target cannot use.
#define ARP_HRD_ETHER 1
struct arp_ipv4 {
  __be16 hrd, pro;
  __u8 hln, pln;
  __be16 op;
  unsigned char sha[ETH_ALEN];
  __be32 spa;
  unsigned char tha[ETH_ALEN];
  __be32 tpa;
} __attribute__((packed));

static __always_inline int count(__u32 which, int verdict) {
  __u64* c = bpf_map_lookup_elem(&coronet_cnt, &which);
  if (c) *c += 1;
  return verdict;
}

SEC("xdp")
int coronet_xdp(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* end = (void*)(long)ctx->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > end) return count(CNT_PASS, XDP_PASS);

  __u32 zero = 0;
  struct coronet_cfg_value* cfg = bpf_map_lookup_elem(&coronet_cfg, &zero);
  if (!cfg) return XDP_PASS;

  __u32 which;
  if (eth->h_proto == bpf_htons(ETH_P_IP)) {
    struct iphdr* ip = (void*)(eth + 1);
    if ((void*)(ip + 1) > end || ip->daddr != cfg->addr) return count(CNT_PASS, XDP_PASS);
    which = CNT_REDIRECT_IPV4;
  } else if (eth->h_proto == bpf_htons(ETH_P_ARP)) {
    struct arp_ipv4* arp = (void*)(eth + 1);
    if ((void*)(arp + 1) > end) return count(CNT_PASS, XDP_PASS);
    if (arp->hrd != bpf_htons(ARP_HRD_ETHER) || arp->pro != bpf_htons(ETH_P_IP) || arp->tpa != cfg->addr)
      return count(CNT_PASS, XDP_PASS);
    which = CNT_REDIRECT_ARP;
  } else {
    return count(CNT_PASS, XDP_PASS);
  }
  // No socket on this queue (coronet bound only --queue N, or it is still
  // starting): the kernel gets the frame (the low bits of flags are the
  // verdict when the lookup fails), and it counts as passed.
  long verdict = bpf_redirect_map(&coronet_xsks, ctx->rx_queue_index, XDP_PASS);
  return count(verdict == XDP_REDIRECT ? which : CNT_PASS, (int)verdict);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
