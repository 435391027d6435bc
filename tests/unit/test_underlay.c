/* Unit tests for tincan/underlay.c: which interfaces ICE may gather on.
 * No tunnel inside the tunnel: never evio's bridges or TAPs, never an
 * interface that rides on them (flannel.1 created with "dev evbr0", or a
 * VLAN on it), never the container and Kubernetes devices of the default
 * ice.ignore_interfaces patterns; and a veth whose peer's index happens to
 * be a bridge's index here is still the underlay. */
#include "../../tincan/underlay.h"
#include "evio/config.h"
#include "check.h"

#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#define XMPP "\"xmpp\":{\"host\":\"x.example\",\"user\":\"a@x.example\",\"password\":\"p\"}"
#define OVERLAY "\"overlays\":{\"k8s\":{\"bridge\":{\"name\":\"evbr0\",\"ip\":\"10.10.0.1/24\"}}}"
#define UP (IFF_UP | IFF_RUNNING)

static void load(struct config *cfg, const char *ice)
{
    char text[1024];
    char *err = NULL;
    snprintf(text, sizeof text, "{" XMPP ",%s" OVERLAY "}", ice);
    if (config_parse(text, "t.json", cfg, &err)) {
        fprintf(stderr, "config: %s\n", err ? err : "?");
        exit(1);
    }
    free(err);
}

static enum underlay_skip judge(const struct underlay_filter *f, const char *name,
                                unsigned flags, const char **what)
{
    struct underlay_verdict v;
    bool ok = underlay_iface_ok(f, name, flags, &v);
    CHECK(ok == (v.skip == UNDERLAY_OK));
    if (what)
        *what = v.what;
    return v.skip;
}

/* The default patterns keep pod, CNI, container and VM-host devices out
 * and leave the usual uplinks in. */
static void test_default_patterns(void)
{
    struct config cfg;
    load(&cfg, "");
    const char *tap = "t-0123abcd";
    struct underlay_filter f = { .cfg = &cfg, .extra = &tap, .n_extra = 1 };
    static const char *const out[] = {
        "flannel.1", "flannel-wg", "flannel-v6.1", "cni0", "docker0", "docker_gwbridge",
        "veth1a2b3c4d", "vethwe-bridge", "cali1234567890a", "vxlan.calico", "vxlan-v6.calico",
        "wireguard.cali", "tunl0", "cilium_host", "cilium_vxlan", "lxc9f8e7d", "weave",
        "kube-ipvs0", "kube-bridge", "kube-dummy-if", "nodelocaldns", "antrea-gw0", "virbr0",
        "podman0", "lxdbr0", "incusbr0",
    };
    static const char *const in[] = {
        "eth0", "enp3s0", "wlan0", "ens5", "br-lan", "bond0", "eth0.100", "wg0", "ppp0",
        "usb0", "end0", "vet0", "cn0", "kube-ipvs1",
    };
    for (size_t i = 0; i < sizeof out / sizeof *out; i++) {
        const char *what = NULL;
        enum underlay_skip s = judge(&f, out[i], UP, &what);
        if (s != UNDERLAY_IGNORED)
            fprintf(stderr, "%s: %s\n", out[i], underlay_skip_name(s));
        CHECK(s == UNDERLAY_IGNORED && what && *what);
    }
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
        enum underlay_skip s = judge(&f, in[i], UP, NULL);
        if (s != UNDERLAY_OK)
            fprintf(stderr, "%s: %s\n", in[i], underlay_skip_name(s));
        CHECK(s == UNDERLAY_OK);
    }
    const char *what = NULL;
    CHECK(judge(&f, "veth0", UP, &what) == UNDERLAY_IGNORED);
    CHECK_STR(what, "veth*");
    CHECK(judge(&f, "evbr0", UP, &what) == UNDERLAY_BRIDGE);
    CHECK_STR(what, "evbr0");
    CHECK(judge(&f, "t-0123abcd", UP, &what) == UNDERLAY_TAP);
    CHECK(judge(&f, "ovs-netdev", UP, NULL) == UNDERLAY_OVS);
    CHECK(judge(&f, "ovs-system", UP, NULL) == UNDERLAY_OVS);
    CHECK(judge(&f, "lo", UP | IFF_LOOPBACK, NULL) == UNDERLAY_LOOPBACK);
    CHECK(judge(&f, "eth0", IFF_RUNNING, NULL) == UNDERLAY_DOWN);
    CHECK(judge(&f, NULL, UP, NULL) == UNDERLAY_DOWN);
    config_free(&cfg);
}

/* An explicit list replaces the defaults; "@defaults" keeps them. */
static void test_explicit_list(void)
{
    struct config cfg;
    struct underlay_filter f = { .cfg = &cfg };

    load(&cfg, "\"ice\":{\"ignore_interfaces\":[\"eth9\",\"wl?n[0-9]\",\"[!e]th*\"]},");
    CHECK(judge(&f, "eth9", UP, NULL) == UNDERLAY_IGNORED);
    CHECK(judge(&f, "wlan3", UP, NULL) == UNDERLAY_IGNORED);
    CHECK(judge(&f, "wlan", UP, NULL) == UNDERLAY_OK);
    CHECK(judge(&f, "bth1", UP, NULL) == UNDERLAY_IGNORED);
    CHECK(judge(&f, "eth1", UP, NULL) == UNDERLAY_OK);
    CHECK(judge(&f, "veth0", UP, NULL) == UNDERLAY_OK);       /* defaults replaced */
    CHECK(judge(&f, "evbr0", UP, NULL) == UNDERLAY_BRIDGE);   /* never a candidate */
    config_free(&cfg);

    load(&cfg, "\"ice\":{\"ignore_interfaces\":[\"@defaults\",\"eth9\"]},");
    CHECK(judge(&f, "eth9", UP, NULL) == UNDERLAY_IGNORED);
    CHECK(judge(&f, "veth0", UP, NULL) == UNDERLAY_IGNORED);
    CHECK(judge(&f, "eth1", UP, NULL) == UNDERLAY_OK);
    config_free(&cfg);

    load(&cfg, "\"ice\":{\"ignore_interfaces\":[]},");
    CHECK(judge(&f, "flannel.1", UP, NULL) == UNDERLAY_OK);   /* by name: nothing ignored */
    config_free(&cfg);
}

/* Lower links: a vxlan on the bridge rides on the overlay whatever its
 * name (ice.ignore_interfaces empty, so only the lower link can tell), so
 * does a VLAN on that vxlan, and a device on a TAP; a vxlan on eth0 does
 * not. A veth's lower index is its peer's in another namespace: here it
 * equals the bridge's index, and the veth stays eligible. */
static void test_lower_links(void)
{
    struct config cfg;
    load(&cfg, "\"ice\":{\"ignore_interfaces\":[\"cni0\"]},");
    const char *tap = "t-0123abcd";
    static const struct underlay_link links[] = {
        { "lo", 1, 0, false },
        { "eth0", 2, 9, true },          /* a container's veth: peer 9 in the host */
        { "ovs-netdev", 3, 0, false },
        { "evbr0", 9, 0, false },
        { "flannel.1", 10, 9, false },   /* ip link add flannel.1 type vxlan ... dev evbr0 */
        { "pods.7", 11, 10, false },     /* a VLAN on flannel.1 */
        { "vx-uplink", 12, 2, false },   /* a vxlan over the real uplink */
        { "mac-on-tap", 13, 14, false },
        { "t-0123abcd", 14, 0, false },
        { "loopy-a", 15, 16, false },    /* a cycle ends at the depth bound */
        { "loopy-b", 16, 15, false },
        { "self", 17, 17, false },
        { "dangling", 18, 99, false },
        { "mv-cni", 19, 20, false },     /* a macvlan on an ignored bridge */
        { "cni0", 20, 0, false },
    };
    struct underlay_filter f = { .cfg = &cfg, .extra = &tap, .n_extra = 1, .links = links,
                                 .n_links = (int)(sizeof links / sizeof *links) };
    struct underlay_verdict v;

    CHECK(!underlay_iface_ok(&f, "flannel.1", UP, &v));
    CHECK(v.skip == UNDERLAY_RIDES_ON);
    CHECK_STR(v.what, "evbr0");
    CHECK_STR(v.by, "an overlay bridge");
    CHECK(!underlay_iface_ok(&f, "pods.7", UP, &v));
    CHECK(v.skip == UNDERLAY_RIDES_ON);
    CHECK_STR(v.what, "evbr0");
    CHECK(!underlay_iface_ok(&f, "mac-on-tap", UP, &v));
    CHECK(v.skip == UNDERLAY_RIDES_ON);
    CHECK_STR(v.what, "t-0123abcd");
    CHECK_STR(v.by, "an evio link's TAP");
    CHECK(!underlay_iface_ok(&f, "mv-cni", UP, &v));
    CHECK(v.skip == UNDERLAY_RIDES_ON);
    CHECK_STR(v.what, "cni0");
    CHECK(underlay_iface_ok(&f, "eth0", UP, &v));
    CHECK(underlay_iface_ok(&f, "vx-uplink", UP, &v));
    CHECK(underlay_iface_ok(&f, "loopy-a", UP, &v));
    CHECK(underlay_iface_ok(&f, "self", UP, &v));
    CHECK(underlay_iface_ok(&f, "dangling", UP, &v));
    CHECK(underlay_iface_ok(&f, "not-listed", UP, &v));

    /* without the other-namespace mark the veth would be taken for a
     * device on the bridge: the mark is what keeps the container's uplink */
    struct underlay_link same_ns[] = { { "eth0", 2, 9, false }, { "evbr0", 9, 0, false } };
    struct underlay_filter g = { .cfg = &cfg, .links = same_ns, .n_links = 2 };
    CHECK(!underlay_iface_ok(&g, "eth0", UP, &v) && v.skip == UNDERLAY_RIDES_ON);

    /* no list of links: names alone decide */
    struct underlay_filter h = { .cfg = &cfg };
    CHECK(underlay_iface_ok(&h, "pods.7", UP, &v));
    config_free(&cfg);
}

int main(void)
{
    test_default_patterns();
    test_explicit_list();
    test_lower_links();
    return check_report("test_underlay");
}
