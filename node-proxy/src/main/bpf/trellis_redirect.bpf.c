// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// Trellis outbound redirection: cgroup programs attached to one pod's cgroup (one loaded instance per pod,
// so the config and exclusion maps below are that pod's own).
//
//   connect4/connect6      a TCP connect to anything but loopback, the node proxy itself or an excluded
//                          port/CIDR goes to the node proxy's outbound listener instead; where the pod was
//                          going is remembered by socket cookie.
//   sockops                once the source address and port exist (TCP_CONNECT, before the SYN leaves),
//                          the original destination is published under the connection's source
//                          (pod ip, port) in orig_dst: that is the peer the proxy sees when it accepts.
//   getpeername4/6         the pod's getpeername() still shows what it dialed: the redirect is invisible.
//
// orig_dst is pinned and shared by every pod's instance; the node proxy reads (and deletes) its entries.
// Addresses are 16 bytes everywhere, IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d), because Java and other
// dual-stack clients connect to IPv4 services through AF_INET6 sockets (connect6 with a mapped address).
// Rebuild with ./build.sh (clang -target bpf); the compiled object is committed beside this file.

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define AF_INET 2
#define AF_INET6 10

// Where a connection goes (or comes from): address and port (network order), padded to 20 bytes. Keys
// are built zeroed, so the padding never makes two equal keys differ.
struct addr_port {
	__u8 addr[16];
	__u16 port;
	__u16 pad;
};

// The node proxy's outbound listener as the pod reaches it. proxy_port is in network order in the low 16
// bits, exactly as bpf_sock_addr.user_port wants it.
struct config {
	__u32 proxy_ip4;
	__u32 proxy_ip6[4];
	__u32 proxy_port;
	__u32 has_ip6;
};

struct lpm4 {
	__u32 prefixlen;
	__u32 addr;
};

struct lpm6 {
	__u32 prefixlen;
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} config SEC(".maps");

// Destination ports (host order) this pod keeps out of the mesh.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u16);
	__type(value, __u8);
} excluded_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm4);
	__type(value, __u8);
} excluded_cidrs4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm6);
	__type(value, __u8);
} excluded_cidrs6 SEC(".maps");

// Socket cookie -> original destination, for this pod's redirected sockets.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct addr_port);
} cookie_orig SEC(".maps");

// Source of a redirected connection -> its original destination. Pinned, shared, read by the proxy.
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct addr_port);
	__type(value, struct addr_port);
} orig_dst SEC(".maps");

static __always_inline void mapped(struct addr_port *a, __u32 ip4)
{
	__u32 *w = (__u32 *)a->addr;
	w[0] = 0;
	w[1] = 0;
	w[2] = bpf_htonl(0xffff);
	w[3] = ip4;
}

// Whether an IPv4 destination (network order) stays out of the mesh for this pod.
static __always_inline int bypass4(struct config *cfg, __u32 ip4, __u16 port)
{
	if ((bpf_ntohl(ip4) >> 24) == 127 || ip4 == cfg->proxy_ip4)
		return 1;
	if (bpf_map_lookup_elem(&excluded_ports, &port))
		return 1;
	struct lpm4 k = {.prefixlen = 32, .addr = ip4};
	return bpf_map_lookup_elem(&excluded_cidrs4, &k) != 0;
}

// Remembers where the socket was going and sends it to the proxy's IPv4 address.
static __always_inline void remember(struct bpf_sock_addr *ctx, struct addr_port *orig)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	bpf_map_update_elem(&cookie_orig, &cookie, orig, BPF_ANY);
}

SEC("cgroup/connect4")
int trellis_connect4(struct bpf_sock_addr *ctx)
{
	__u32 zero = 0;
	struct config *cfg = bpf_map_lookup_elem(&config, &zero);
	if (!cfg || !cfg->proxy_ip4 || ctx->protocol != IPPROTO_TCP)
		return 1;
	__u32 ip4 = ctx->user_ip4;
	__u16 port = bpf_ntohs((__u16)ctx->user_port);
	if (bypass4(cfg, ip4, port))
		return 1;
	struct addr_port orig = {};
	mapped(&orig, ip4);
	orig.port = (__u16)ctx->user_port;
	remember(ctx, &orig);
	ctx->user_ip4 = cfg->proxy_ip4;
	ctx->user_port = cfg->proxy_port;
	return 1;
}

SEC("cgroup/connect6")
int trellis_connect6(struct bpf_sock_addr *ctx)
{
	__u32 zero = 0;
	struct config *cfg = bpf_map_lookup_elem(&config, &zero);
	if (!cfg || ctx->protocol != IPPROTO_TCP)
		return 1;
	__u32 w0 = ctx->user_ip6[0], w1 = ctx->user_ip6[1], w2 = ctx->user_ip6[2], w3 = ctx->user_ip6[3];
	__u16 port = bpf_ntohs((__u16)ctx->user_port);
	struct addr_port orig = {};
	orig.port = (__u16)ctx->user_port;
	if (w0 == 0 && w1 == 0 && w2 == bpf_htonl(0xffff)) {
		// An IPv4 destination through a dual-stack socket.
		if (!cfg->proxy_ip4 || bypass4(cfg, w3, port))
			return 1;
		mapped(&orig, w3);
		remember(ctx, &orig);
		ctx->user_ip6[3] = cfg->proxy_ip4;
		ctx->user_port = cfg->proxy_port;
		return 1;
	}
	if (!cfg->has_ip6)
		return 1; // no IPv6 proxy address configured: IPv6 destinations are left alone
	if (w0 == 0 && w1 == 0 && w2 == 0 && w3 == bpf_htonl(1))
		return 1; // ::1
	if (w0 == cfg->proxy_ip6[0] && w1 == cfg->proxy_ip6[1] && w2 == cfg->proxy_ip6[2] && w3 == cfg->proxy_ip6[3])
		return 1;
	if (bpf_map_lookup_elem(&excluded_ports, &port))
		return 1;
	struct lpm6 k = {.prefixlen = 128};
	__u32 *kw = (__u32 *)k.addr;
	kw[0] = w0;
	kw[1] = w1;
	kw[2] = w2;
	kw[3] = w3;
	if (bpf_map_lookup_elem(&excluded_cidrs6, &k))
		return 1;
	__u32 *ow = (__u32 *)orig.addr;
	ow[0] = w0;
	ow[1] = w1;
	ow[2] = w2;
	ow[3] = w3;
	remember(ctx, &orig);
	ctx->user_ip6[0] = cfg->proxy_ip6[0];
	ctx->user_ip6[1] = cfg->proxy_ip6[1];
	ctx->user_ip6[2] = cfg->proxy_ip6[2];
	ctx->user_ip6[3] = cfg->proxy_ip6[3];
	ctx->user_port = cfg->proxy_port;
	return 1;
}

SEC("sockops")
int trellis_sockops(struct bpf_sock_ops *skops)
{
	__u32 op = skops->op;
	if (op != BPF_SOCK_OPS_TCP_CONNECT_CB && op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		return 1;
	__u64 cookie = bpf_get_socket_cookie(skops);
	struct addr_port *orig = bpf_map_lookup_elem(&cookie_orig, &cookie);
	if (!orig)
		return 1;
	struct addr_port source = {};
	__u32 family = skops->family;
	if (family == AF_INET) {
		mapped(&source, skops->local_ip4);
	} else if (family == AF_INET6) {
		__u32 *sw = (__u32 *)source.addr;
		sw[0] = skops->local_ip6[0];
		sw[1] = skops->local_ip6[1];
		sw[2] = skops->local_ip6[2];
		sw[3] = skops->local_ip6[3];
	} else {
		return 1;
	}
	source.port = bpf_htons((__u16)skops->local_port);
	struct addr_port value = *orig;
	bpf_map_update_elem(&orig_dst, &source, &value, BPF_ANY);
	return 1;
}

SEC("cgroup/getpeername4")
int trellis_getpeername4(struct bpf_sock_addr *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct addr_port *orig = bpf_map_lookup_elem(&cookie_orig, &cookie);
	if (orig) {
		ctx->user_ip4 = ((__u32 *)orig->addr)[3];
		ctx->user_port = orig->port;
	}
	return 1;
}

SEC("cgroup/getpeername6")
int trellis_getpeername6(struct bpf_sock_addr *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct addr_port *orig = bpf_map_lookup_elem(&cookie_orig, &cookie);
	if (orig) {
		__u32 *w = (__u32 *)orig->addr;
		ctx->user_ip6[0] = w[0];
		ctx->user_ip6[1] = w[1];
		ctx->user_ip6[2] = w[2];
		ctx->user_ip6[3] = w[3];
		ctx->user_port = orig->port;
	}
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
