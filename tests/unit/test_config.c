/* Unit tests for lib/config.c: a full config lands in struct config field by
 * field, a minimal one gets every default, and each bad config is refused
 * with its exact one-line message. */
#include "evio/config.h"
#include "evio/jfield.h"
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Test JSON is written with ' for " so the cases stay readable. */
static char *q(const char *s)
{
    char *out = strdup(s);

    for (char *p = out; p && *p; p++)
        if (*p == '\'')
            *p = '"';
    return out;
}

/* Parses SRC (in ' notation) as "t.json"; returns the rc, *ERR malloc'd. */
static int parse(const char *src, struct config *cfg, char **err)
{
    char *text = q(src);
    int rc = config_parse(text, "t.json", cfg, err);

    free(text);
    return rc;
}

static char tmpdir[64];
static char *tmp_files[16];     /* removed at the end */
static int n_tmp_files;

static char *write_tmp(const char *name, const char *content)
{
    char *path;

    if (asprintf(&path, "%s/%s", tmpdir, name) < 0)
        return NULL;
    if (n_tmp_files < 16)
        tmp_files[n_tmp_files++] = strdup(path);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(content, f);
        fclose(f);
    }
    return path;
}

#define XMPP_OK "'xmpp':{'host':'xmpp.example.org','user':'n1@example.org','password':'s3cret-pw'}"
#define LAB_OK  "'overlays':{'lab':{'bridge':{'ip':'10.10.0.1/24'}}}"
#define PEER_A  "0123456789abcdef0123456789abcdef"
#define PEER_B  "fedcba9876543210fedcba9876543210"

static void test_minimal_defaults(void)
{
    struct config cfg;
    char *err = NULL;

    CHECK(parse("{" XMPP_OK "," LAB_OK "}", &cfg, &err) == 0);
    CHECK_STR(err, NULL);
    CHECK_STR(cfg.path, "t.json");
    CHECK_STR(cfg.node_id, NULL);
    CHECK_STR(cfg.state_dir, "/var/lib/evio");
    CHECK_STR(cfg.run_dir, "/run/evio");
    CHECK_STR(cfg.log_level, "info");
    CHECK_STR(cfg.xmpp_host, "xmpp.example.org");
    CHECK(cfg.xmpp_port == 5222);
    CHECK_STR(cfg.xmpp_user, "n1@example.org");
    CHECK_STR(cfg.xmpp_password, "s3cret-pw");
    CHECK(cfg.xmpp_tls == XMPP_TLS_REQUIRED);
    CHECK_STR(cfg.xmpp_ca_file, NULL);
    CHECK_STR(cfg.xmpp_muc_domain, "conference.example.org");
    CHECK(cfg.n_stun == 0);
    CHECK(cfg.n_turn == 0);
    /* the container, CNI and VM-host defaults (evio.conf(5)), as patterns */
    CHECK(cfg.n_ignore == 21);
    CHECK_STR(cfg.ignore_interfaces[0], "flannel*");
    CHECK_STR(cfg.ignore_interfaces[1], "cni*");
    CHECK_STR(cfg.ignore_interfaces[3], "veth*");
    CHECK_STR(cfg.ignore_interfaces[9], "cilium_*");
    CHECK_STR(cfg.ignore_interfaces[12], "kube-ipvs0");
    CHECK_STR(cfg.ignore_interfaces[15], "nodelocaldns");
    CHECK(!cfg.relay_only);
    CHECK(cfg.fast_path);
    CHECK(cfg.rekey_records == 1 << 24);
    CHECK(cfg.rekey_after_s == 86400 && cfg.rekey_after_bytes == UINT64_C(1) << 40);
    CHECK(cfg.data_records);
    CHECK_STR(cfg.ovs_rundir, "/var/run/openvswitch");
    CHECK_STR(cfg.ovs_db, "unix:/var/run/openvswitch/db.sock");
    CHECK(cfg.n_overlays == 1);
    const struct config_overlay *o = &cfg.overlays[0];
    CHECK_STR(o->name, "lab");
    CHECK_STR(o->bridge_name, "evio-lab");
    CHECK(o->ip4 == 0x0a0a0001);
    CHECK(o->prefix_len == 24);
    CHECK(o->mtu == 1410);
    CHECK(!o->mtu_auto);
    CHECK_STR(o->mtu_source, "default");
    CHECK(o->min_successors == 2);
    CHECK(o->max_long_distance == -1);
    CHECK(o->max_on_demand == 4);
    CHECK(o->on_demand_threshold_kbps == 1000);
    CHECK(o->on_demand_idle_s == 60);
    CHECK(o->max_concurrent_edges == 8);
    CHECK(o->n_static == 0);
    CHECK(config_find_overlay(&cfg, "lab") == o);
    CHECK(config_find_overlay(&cfg, "nope") == NULL);
    config_free(&cfg);
    CHECK(cfg.xmpp_password == NULL && cfg.n_overlays == 0);
    config_free(&cfg);      /* twice is harmless: the struct is zeroed */
    config_free(NULL);
}

static void test_full(void)
{
    struct config cfg;
    char *err = NULL;
    char *ca = write_tmp("ca.pem", "not really a certificate\n");
    char *pwfile = write_tmp("turn.pass", "turn-secret\n");
    char *text;

    if (asprintf(&text, "{"
        "'node':{'id':'" PEER_A "','state_dir':'/srv/evio/state','run_dir':'/tmp/evio-run',"
        "        'log_level':'debug'},"
        "'xmpp':{'host':'192.0.2.7','port':5269,'user':'n1@example.org/agent',"
        "        'password':'pw1','tls':'none','ca_file':'%s','muc_domain':'muc.example.net'},"
        "'stun':['stun.example.org','[2001:db8::1]:19302','198.51.100.1:3479'],"
        "'turn':[{'server':'turn.example.org:443','user':'tu','password':'tp'},"
        "        {'server':'turn2.example.org','user':'tu2','password_file':'%s'}],"
        "'ice':{'ignore_interfaces':['eth9','veth_x'],'relay_only':true,'fast_path':false},"
        "'link':{'rekey_records':1000,'data_records':false,'rekey_after_s':5,"
        "'rekey_after_bytes':1048576},"
        "'ovs':{'rundir':'/run/ovs1','db':'tcp:127.0.0.1:6640'},"
        "'overlays':{"
        "  'lab':{'bridge':{'name':'br-lab','ip':'10.10.0.1/24','mtu':9000},"
        "         'topology':{'min_successors':3,'max_long_distance':5,'max_on_demand':0,"
        "                     'max_concurrent_edges':64,'on_demand_threshold_kbps':0,"
        "                     'on_demand_idle_s':86400},"
        "         'static_peers':['" PEER_B "'],'members':['" PEER_B "','00112233445566778899aabbccddeeff']},"
        "  'k8s_2':{'bridge':{'ip':'172.16.5.9/32','mtu':576},"
        "           'topology':{'max_long_distance':'auto','max_on_demand':64}}"
        "}}", ca, pwfile) < 0)
        return;

    CHECK(parse(text, &cfg, &err) == 0);
    CHECK_STR(err, NULL);
    CHECK_STR(cfg.node_id, PEER_A);
    CHECK_STR(cfg.state_dir, "/srv/evio/state");
    CHECK_STR(cfg.run_dir, "/tmp/evio-run");
    CHECK_STR(cfg.log_level, "debug");
    CHECK_STR(cfg.xmpp_host, "192.0.2.7");
    CHECK(cfg.xmpp_port == 5269);
    CHECK_STR(cfg.xmpp_user, "n1@example.org/agent");
    CHECK_STR(cfg.xmpp_password, "pw1");
    CHECK(cfg.xmpp_tls == XMPP_TLS_NONE);
    CHECK_STR(cfg.xmpp_ca_file, ca);
    CHECK_STR(cfg.xmpp_muc_domain, "muc.example.net");

    CHECK(cfg.n_stun == 3);
    CHECK_STR(cfg.stun[0].host, "stun.example.org");
    CHECK(cfg.stun[0].port == 3478);
    CHECK_STR(cfg.stun[1].host, "2001:db8::1");
    CHECK(cfg.stun[1].port == 19302);
    CHECK_STR(cfg.stun[2].host, "198.51.100.1");
    CHECK(cfg.stun[2].port == 3479);
    CHECK(cfg.stun[0].user == NULL && cfg.stun[0].password == NULL);

    CHECK(cfg.n_turn == 2);
    CHECK_STR(cfg.turn[0].host, "turn.example.org");
    CHECK(cfg.turn[0].port == 443);
    CHECK_STR(cfg.turn[0].user, "tu");
    CHECK_STR(cfg.turn[0].password, "tp");
    CHECK_STR(cfg.turn[1].host, "turn2.example.org");
    CHECK(cfg.turn[1].port == 3478);
    CHECK_STR(cfg.turn[1].user, "tu2");
    CHECK_STR(cfg.turn[1].password, "turn-secret");

    CHECK(cfg.n_ignore == 2);
    CHECK_STR(cfg.ignore_interfaces[0], "eth9");
    CHECK_STR(cfg.ignore_interfaces[1], "veth_x");
    CHECK(cfg.relay_only);
    CHECK(!cfg.fast_path);
    CHECK(cfg.rekey_records == 1000);
    CHECK(cfg.rekey_after_s == 5 && cfg.rekey_after_bytes == 1048576);
    CHECK(!cfg.data_records);
    CHECK_STR(cfg.ovs_rundir, "/run/ovs1");
    CHECK_STR(cfg.ovs_db, "tcp:127.0.0.1:6640");

    CHECK(cfg.n_overlays == 2);
    const struct config_overlay *lab = config_find_overlay(&cfg, "lab");
    const struct config_overlay *k8s = config_find_overlay(&cfg, "k8s_2");
    CHECK(lab == &cfg.overlays[0]);
    CHECK(k8s == &cfg.overlays[1]);
    if (lab && k8s) {
        CHECK_STR(lab->bridge_name, "br-lab");
        CHECK(lab->ip4 == 0x0a0a0001 && lab->prefix_len == 24);
        CHECK(lab->mtu == 9000);
        CHECK(lab->min_successors == 3);
        CHECK(lab->max_long_distance == 5);
        CHECK(lab->max_on_demand == 0);
        CHECK(lab->on_demand_threshold_kbps == 0);
        CHECK(lab->on_demand_idle_s == 86400);
        CHECK(lab->max_concurrent_edges == 64);
        CHECK(lab->n_static == 1);
        CHECK_STR(lab->static_peers[0], PEER_B);
        CHECK(lab->members_only && lab->n_members == 2);
        CHECK_STR(lab->members[1], "00112233445566778899aabbccddeeff");
        CHECK(!k8s->members_only && k8s->n_members == 0);
        CHECK_STR(k8s->bridge_name, "evio-k8s_2");
        CHECK(k8s->ip4 == 0xac100509 && k8s->prefix_len == 32);
        CHECK(k8s->mtu == 576);
        CHECK(k8s->min_successors == 2);
        CHECK(k8s->max_long_distance == -1);
        CHECK(k8s->max_on_demand == 64);
        CHECK(k8s->max_concurrent_edges == 8);
        CHECK(k8s->n_static == 0);
    }
    config_free(&cfg);
    free(text);
    free(ca);
    free(pwfile);
}

/* Defaults that depend on other keys. */
static void test_derived_defaults(void)
{
    struct config cfg;
    char *err = NULL;

    CHECK(parse("{'xmpp':{'host':'x.org','user':'a@b.example/res','password':'p',"
                "'tls':'direct'},'ice':{'ignore_interfaces':[]},"
                "'ovs':{'rundir':'/tmp/ovs'}," LAB_OK "}", &cfg, &err) == 0);
    CHECK_STR(err, NULL);
    CHECK(cfg.xmpp_port == 5223);
    CHECK(cfg.xmpp_tls == XMPP_TLS_DIRECT);
    CHECK_STR(cfg.xmpp_muc_domain, "conference.b.example");
    CHECK(cfg.n_ignore == 0);
    CHECK_STR(cfg.ovs_db, "unix:/tmp/ovs/db.sock");
    config_free(&cfg);
}

/* ice.ignore_interfaces takes fnmatch(3) patterns; an explicit list
 * replaces the defaults and "@defaults" brings them back where it stands. */
static void test_ignore_patterns(void)
{
    struct config cfg;
    char *err = NULL;

    CHECK(parse("{" XMPP_OK ",'ice':{'ignore_interfaces':['eth9','veth*','cilium_*',"
                "'tap[0-9]','wlan?','[!e]th0','br\\\\*','an-exactly-15ch',"
                "'pattern-of-exactly-31-chars-ab*']}," LAB_OK "}", &cfg, &err) == 0);
    CHECK_STR(err, NULL);
    CHECK(cfg.n_ignore == 9);
    CHECK_STR(cfg.ignore_interfaces[0], "eth9");
    CHECK_STR(cfg.ignore_interfaces[3], "tap[0-9]");
    CHECK_STR(cfg.ignore_interfaces[6], "br\\*");
    CHECK_STR(cfg.ignore_interfaces[8], "pattern-of-exactly-31-chars-ab*");
    config_free(&cfg);

    CHECK(parse("{" XMPP_OK ",'ice':{'ignore_interfaces':['wg*','@defaults','eth1']},"
                LAB_OK "}", &cfg, &err) == 0);
    CHECK_STR(err, NULL);
    CHECK(cfg.n_ignore == 23);
    CHECK_STR(cfg.ignore_interfaces[0], "wg*");
    CHECK_STR(cfg.ignore_interfaces[1], "flannel*");
    CHECK_STR(cfg.ignore_interfaces[19], "podman*");
    CHECK_STR(cfg.ignore_interfaces[21], "incusbr*");
    CHECK_STR(cfg.ignore_interfaces[22], "eth1");
    config_free(&cfg);
}

/* "mtu": "auto" is taken as such (resolved at start, evio/mtu.h); until
 * then the bridge's MTU reads 1410. An integer is the configured value. */
static void test_mtu_auto(void)
{
    struct config cfg;
    char *err = NULL;

    CHECK(parse("{" XMPP_OK ",'overlays':{'a':{'bridge':{'ip':'10.1.0.1/24','mtu':'auto'}},"
                "'b':{'bridge':{'ip':'10.2.0.1/24','mtu':1300}}}}", &cfg, &err) == 0);
    CHECK_STR(err, NULL);
    const struct config_overlay *a = config_find_overlay(&cfg, "a");
    const struct config_overlay *b = config_find_overlay(&cfg, "b");
    CHECK(a && a->mtu_auto && a->mtu == 1410 && a->mtu_source[0] == '\0');
    CHECK(b && !b->mtu_auto && b->mtu == 1300);
    CHECK_STR(b ? b->mtu_source : NULL, "config");
    config_free(&cfg);
}

struct bad_case {
    const char *json;       /* in ' notation */
    const char *message;    /* exact, in real quotes */
};

static const struct bad_case bad_cases[] = {
    { "{" XMPP_OK ",'overlays':{'lab':{'bridge':{'ip':'10.10.0.1/24','mtu':'big'}}}}",
      "t.json: overlays.lab.bridge.mtu: expected integer 576..9000 or \"auto\", got \"big\"" },
    { "{" XMPP_OK ",'overlays':{'lab':{'bridge':{'ip':'10.10.0.1/24','mtu':70000}}}}",
      "t.json: overlays.lab.bridge.mtu: expected integer 576..9000 or \"auto\", got 70000" },
    { "{" XMPP_OK ",'overlays':{'lab':{'bridge':{'ip':'10.10.0.1/24','mtu':1410.5}}}}",
      "t.json: overlays.lab.bridge.mtu: expected integer 576..9000 or \"auto\", got 1410.5" },
    { "{'xmpp':{'host':'x.org','port':true,'user':'a@b.org','password':'p'}," LAB_OK "}",
      "t.json: xmpp.port: expected integer 1..65535, got true" },
    { "{" LAB_OK "}",
      "t.json: xmpp: required key missing" },
    { "{'xmpp':[]," LAB_OK "}",
      "t.json: xmpp: expected object, got an array" },
    { "{'xmpp':{'host':'x.org','user':'a@b.org','password':'p','password_file':'/f'},"
      LAB_OK "}",
      "t.json: xmpp.password: give exactly one of password and password_file" },
    { "{'xmpp':{'host':'x.org','user':'a@b.org'}," LAB_OK "}",
      "t.json: xmpp.password: give exactly one of password and password_file" },
    { "{'xmpp':{'host':'x.org','user':'a@b.org','password':12345}," LAB_OK "}",
      "t.json: xmpp.password: expected non-empty string, got a number" },
    { "{'node':{'colour':'blue'}," XMPP_OK "," LAB_OK "}",
      "t.json: node.colour: unknown key" },
    { "{'node':{'a b\\n':1}," XMPP_OK "," LAB_OK "}",
      "t.json: node.\"a b\\n\": unknown key" },
    { "{" XMPP_OK "," LAB_OK ",'extra':null}",
      "t.json: extra: unknown key" },
    { "{'node':{'id':'0123456789ABCDEF0123456789abcdef'}," XMPP_OK "," LAB_OK "}",
      "t.json: node.id: expected 32 lowercase hex digits, got "
      "\"0123456789ABCDEF0123456789abcdef\"" },
    { "{'node':{'state_dir':'var/lib/evio'}," XMPP_OK "," LAB_OK "}",
      "t.json: node.state_dir: expected absolute path, got \"var/lib/evio\"" },
    { "{'node':{'log_level':'loud'}," XMPP_OK "," LAB_OK "}",
      "t.json: node.log_level: expected one of error|warn|info|debug, got \"loud\"" },
    { "{'node':{'run_dir':null}," XMPP_OK "," LAB_OK "}",
      "t.json: node.run_dir: expected absolute path, got null" },
    { "{'xmpp':{'user':'a@b.org','password':'p'}," LAB_OK "}",
      "t.json: xmpp.host: required key missing" },
    { "{'xmpp':{'host':'bad host!','user':'a@b.org','password':'p'}," LAB_OK "}",
      "t.json: xmpp.host: expected host name or IP address, got \"bad host!\"" },
    { "{'xmpp':{'host':'x.org','user':'nodomain','password':'p'}," LAB_OK "}",
      "t.json: xmpp.user: expected JID local@domain[/resource], got \"nodomain\"" },
    { "{'xmpp':{'host':'x.org','user':'a@b.org','password':'p','tls':'yes'}," LAB_OK "}",
      "t.json: xmpp.tls: expected one of required|direct|none, got \"yes\"" },
    { "{'xmpp':{'host':'x.org','user':'a@b.org','password':'p',"
      "'ca_file':'/nonexistent/ca.pem'}," LAB_OK "}",
      "t.json: xmpp.ca_file: cannot read /nonexistent/ca.pem: No such file or directory" },
    { "{" XMPP_OK ",'stun':['stun.example.org:99999']," LAB_OK "}",
      "t.json: stun[0]: expected \"host:port\" with port 1..65535, got "
      "\"stun.example.org:99999\"" },
    { "{" XMPP_OK ",'stun':'stun.example.org'," LAB_OK "}",
      "t.json: stun: expected array, got \"stun.example.org\"" },
    { "{" XMPP_OK ",'stun':['a','b','c','d','e','f','g','h','i']," LAB_OK "}",
      "t.json: stun: expected at most 8 entries, got 9" },
    { "{" XMPP_OK ",'turn':[{'server':'t.org','password':'p'}]," LAB_OK "}",
      "t.json: turn[0].user: required key missing" },
    { "{" XMPP_OK ",'turn':[{'server':'t.org','user':'u','password':'p','realm':'r'}],"
      LAB_OK "}",
      "t.json: turn[0].realm: unknown key" },
#define IGNORE_WHAT "expected interface name of 1..15 characters or fnmatch pattern of up " \
                    "to 31 (no '/', ':' or spaces, '[' closed), or \"@defaults\""
    { "{" XMPP_OK ",'ice':{'ignore_interfaces':['a-very-long-ifname0']}," LAB_OK "}",
      "t.json: ice.ignore_interfaces[0]: " IGNORE_WHAT ", got \"a-very-long-ifname0\"" },
    { "{" XMPP_OK ",'ice':{'ignore_interfaces':['eth0','veth[0-9']}," LAB_OK "}",
      "t.json: ice.ignore_interfaces[1]: " IGNORE_WHAT ", got \"veth[0-9\"" },
    { "{" XMPP_OK ",'ice':{'ignore_interfaces':['a-pattern-much-longer-than-31-c*']},"
      LAB_OK "}",
      "t.json: ice.ignore_interfaces[0]: " IGNORE_WHAT ", got "
      "\"a-pattern-much-longer-than-31-c*\"" },
    { "{" XMPP_OK ",'ice':{'ignore_interfaces':['eth*','br/0']}," LAB_OK "}",
      "t.json: ice.ignore_interfaces[1]: " IGNORE_WHAT ", got \"br/0\"" },
    { "{" XMPP_OK ",'ice':{'ignore_interfaces':['eth[0/9]']}," LAB_OK "}",
      "t.json: ice.ignore_interfaces[0]: " IGNORE_WHAT ", got \"eth[0/9]\"" },
    { "{" XMPP_OK ",'ice':{'ignore_interfaces':['cali *']}," LAB_OK "}",
      "t.json: ice.ignore_interfaces[0]: " IGNORE_WHAT ", got \"cali *\"" },
    { "{" XMPP_OK ",'ice':{'ignore_interfaces':['']}," LAB_OK "}",
      "t.json: ice.ignore_interfaces[0]: " IGNORE_WHAT ", got \"\"" },
    { "{" XMPP_OK ",'ice':{'ignore_interfaces':[7]}," LAB_OK "}",
      "t.json: ice.ignore_interfaces[0]: " IGNORE_WHAT ", got 7" },
    { "{" XMPP_OK ",'ice':{'ignore_interfaces':['@defaults','@defaults','@defaults','@defaults']},"
      LAB_OK "}",
      "t.json: ice.ignore_interfaces[3]: more than 64 entries with @defaults expanded" },
    { "{" XMPP_OK ",'overlays':{'lab':{'bridge':{'ip':'10.10.0.1/24','mtu':'Auto'}}}}",
      "t.json: overlays.lab.bridge.mtu: expected integer 576..9000 or \"auto\", got \"Auto\"" },
    { "{" XMPP_OK ",'ice':{'relay_only':'yes'}," LAB_OK "}",
      "t.json: ice.relay_only: expected true or false, got \"yes\"" },
    { "{" XMPP_OK ",'ice':{'fast_path':1}," LAB_OK "}",
      "t.json: ice.fast_path: expected true or false, got 1" },
    { "{" XMPP_OK ",'link':{'rekey_records':8}," LAB_OK "}",
      "t.json: link.rekey_records: expected integer 16..1073741824, got 8" },
    { "{" XMPP_OK ",'link':{'rekey_after_s':1}," LAB_OK "}",
      "t.json: link.rekey_after_s: expected integer 2..31622400, got 1" },
    { "{" XMPP_OK ",'link':{'rekey':8}," LAB_OK "}",
      "t.json: link.rekey: unknown key" },
    { "{" XMPP_OK ",'ovs':{'db':'http://x'}," LAB_OK "}",
      "t.json: ovs.db: expected \"unix:PATH\" or \"tcp:HOST:PORT\", got \"http://x\"" },
    { "{" XMPP_OK "}",
      "t.json: overlays: required key missing" },
    { "{" XMPP_OK ",'overlays':{}}",
      "t.json: overlays: expected 1..16 overlays, got 0" },
    { "{" XMPP_OK ",'overlays':{'Lab':{'bridge':{'ip':'10.0.0.1/24'}}}}",
      "t.json: overlays: expected overlay names of 1..32 characters a-z 0-9 _ -, got \"Lab\"" },
    { "{" XMPP_OK ",'overlays':{'lab':{}}}",
      "t.json: overlays.lab.bridge: required key missing" },
    { "{" XMPP_OK ",'overlays':{'abcdefghijk':{'bridge':{'ip':'10.0.0.1/24'}}}}",
      "t.json: overlays.abcdefghijk.bridge.name: required when \"evio-abcdefghijk\" "
      "is longer than 15 characters" },
    { "{" XMPP_OK ",'overlays':{'lab':{'bridge':{'name':'..','ip':'10.0.0.1/24'}}}}",
      "t.json: overlays.lab.bridge.name: expected interface name of 1..15 characters "
      "without '/', ':' or spaces, got \"..\"" },
    { "{" XMPP_OK ",'overlays':{'lab':{'bridge':{'ip':'10.0.0.1'}}}}",
      "t.json: overlays.lab.bridge.ip: expected IPv4 address with prefix length "
      "\"a.b.c.d/1..32\" or \"auto\", got \"10.0.0.1\"" },
    { "{" XMPP_OK ",'overlays':{'lab':{'bridge':{'ip':'10.0.0.1/33'}}}}",
      "t.json: overlays.lab.bridge.ip: expected IPv4 address with prefix length "
      "\"a.b.c.d/1..32\" or \"auto\", got \"10.0.0.1/33\"" },
    { "{" XMPP_OK ",'overlays':{'lab':{'bridge':{'ip':'10.0.0.1/24'},"
      "'topology':{'max_long_distance':'many'}}}}",
      "t.json: overlays.lab.topology.max_long_distance: expected \"auto\" or integer 0..64, "
      "got \"many\"" },
    { "{" XMPP_OK ",'overlays':{'lab':{'bridge':{'ip':'10.0.0.1/24'},"
      "'topology':{'min_successors':0}}}}",
      "t.json: overlays.lab.topology.min_successors: expected integer 1..16, got 0" },
    { "{" XMPP_OK ",'overlays':{'lab':{'bridge':{'ip':'10.0.0.1/24'},"
      "'static_peers':['" PEER_A "','beef']}}}",
      "t.json: overlays.lab.static_peers[1]: expected 32 lowercase hex digits, got \"beef\"" },
    { "{" XMPP_OK ",'overlays':{'lab':{'bridge':{'ip':'10.0.0.1/24'},"
      "'static_peers':['" PEER_A "','" PEER_A "']}}}",
      "t.json: overlays.lab.static_peers[1]: duplicate of overlays.lab.static_peers[0]" },
    { "{" XMPP_OK ",'overlays':{'lab':{'bridge':{'ip':'10.0.0.1/24'},"
      "'members':['" PEER_A "','" PEER_A "']}}}",
      "t.json: overlays.lab.members[1]: duplicate of overlays.lab.members[0]" },
    { "{" XMPP_OK ",'overlays':{'lab':{'bridge':{'ip':'10.0.0.1/24'},'members':'all'}}}",
      "t.json: overlays.lab.members: expected array, got \"all\"" },
    { "{" XMPP_OK ",'overlays':{'a':{'bridge':{'name':'br0','ip':'10.0.0.1/24'}},"
      "'b':{'bridge':{'name':'br0','ip':'10.1.0.1/24'}}}}",
      "t.json: overlays.b.bridge.name: \"br0\" is already the bridge of overlay a" },
    { "{'node':{'state_dir':'relative/path/that/goes/on/and/on/for/ever/and/ever'},"
      XMPP_OK "," LAB_OK "}",
      "t.json: node.state_dir: expected absolute path, got "
      "\"relative/path/that/goes/on/and/on/for/ev...\"" },
    { "[1,2]",
      "t.json: expected an object at the top level, got an array" },
    { "{'xmpp': {'host': 'x.org',,}}",
      "t.json: line 1, column 27: JSON syntax error: string or '}' expected near ','" },
    { "",
      "t.json: line 1, column 0: JSON syntax error: '[' or '{' expected near end of file" },
};

static void test_bad(void)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        struct config cfg;
        char *err = NULL;
        int rc = parse(bad_cases[i].json, &cfg, &err);

        if (rc != 2 || !err || strcmp(err, bad_cases[i].message))
            fprintf(stderr, "bad case %zu:\n", i);
        CHECK(rc == 2);
        CHECK_STR(err, bad_cases[i].message);
        CHECK(err && !strchr(err, '\n'));
        CHECK(err && !strstr(err, "s3cret"));
        CHECK(cfg.n_overlays == 0 && cfg.xmpp_password == NULL && cfg.path == NULL);
        free(err);
    }
}

static void test_secrets_not_shown(void)
{
    struct config cfg;
    char *err = NULL;

    /* jansson's message would quote the broken string: the password */
    CHECK(parse("{'xmpp':{'host':'x.org','user':'a@b.org','password':'s3cret\\q'}}",
                &cfg, &err) == 2);
    CHECK_STR(err, "t.json: line 1, column 61: JSON syntax error: invalid escape");
    CHECK(err && !strstr(err, "s3cret"));
    free(err);
}

static void test_duplicate_key(void)
{
    struct config cfg;
    char *err = NULL;

    CHECK(parse("{'xmpp':{'host':'x.org','host':'y.org'}}", &cfg, &err) == 2);
    CHECK_STR(err, "t.json: line 1, column 30: JSON syntax error: "
                   "duplicate object key near '\"host\"'");
    free(err);
}

static void test_password_file(void)
{
    struct config cfg;
    char *err = NULL, *text;
    char *good = write_tmp("good.pass", "file-secret\n");
    char *crlf = write_tmp("crlf.pass", "two\nlines\r\n");
    char *empty = write_tmp("empty.pass", "\n");
    char missing[128];

    snprintf(missing, sizeof missing, "%s/missing.pass", tmpdir);

    if (asprintf(&text, "{'xmpp':{'host':'x.org','user':'a@b.org','password_file':'%s'},"
                 LAB_OK "}", good) >= 0) {
        CHECK(parse(text, &cfg, &err) == 0);
        CHECK_STR(err, NULL);
        CHECK_STR(cfg.xmpp_password, "file-secret");
        config_free(&cfg);
        free(text);
    }
    if (asprintf(&text, "{'xmpp':{'host':'x.org','user':'a@b.org','password_file':'%s'},"
                 LAB_OK "}", crlf) >= 0) {
        CHECK(parse(text, &cfg, &err) == 0);
        CHECK_STR(cfg.xmpp_password, "two\nlines");
        config_free(&cfg);
        free(text);
    }
    if (asprintf(&text, "{'xmpp':{'host':'x.org','user':'a@b.org','password_file':'%s'},"
                 LAB_OK "}", missing) >= 0) {
        char *want = NULL;
        CHECK(parse(text, &cfg, &err) == 2);
        if (asprintf(&want, "t.json: xmpp.password_file: cannot read %s: "
                     "No such file or directory", missing) >= 0)
            CHECK_STR(err, want);
        free(want);
        free(err);
        free(text);
    }
    if (asprintf(&text, "{" XMPP_OK ",'turn':[{'server':'t.org','user':'u',"
                 "'password_file':'%s'}]," LAB_OK "}", empty) >= 0) {
        char *want = NULL;
        CHECK(parse(text, &cfg, &err) == 2);
        if (asprintf(&want, "t.json: turn[0].password_file: %s is empty", empty) >= 0)
            CHECK_STR(err, want);
        free(want);
        free(err);
        free(text);
    }
    free(good);
    free(crlf);
    free(empty);
}

static void test_load(void)
{
    struct config cfg;
    char *err = NULL;
    char *good = write_tmp("good.json", "{\"xmpp\":{\"host\":\"x.org\",\"user\":\"a@b.org\","
                           "\"password\":\"p\"},\"overlays\":{\"lab\":{\"bridge\":"
                           "{\"ip\":\"10.0.0.1/24\"}}}}\n");
    char *bad = write_tmp("bad.json", "{\n  \"xmpp\": 1,\n}\n");

    CHECK(config_load("/nonexistent/cfg.json", &cfg, &err) == 1);
    CHECK_STR(err, "/nonexistent/cfg.json: cannot read: No such file or directory");
    free(err);

    CHECK(config_load(tmpdir, &cfg, &err) == 1);    /* a directory */
    CHECK(err && strstr(err, "cannot read: Is a directory"));
    free(err);

    CHECK(config_load(good, &cfg, &err) == 0);
    CHECK_STR(err, NULL);
    CHECK_STR(cfg.path, good);
    config_free(&cfg);

    CHECK(config_load(bad, &cfg, &err) == 2);
    char *want = NULL;
    if (asprintf(&want, "%s: line 3, column 1: JSON syntax error: "
                 "string or '}' expected near '}'", bad) >= 0)
        CHECK_STR(err, want);
    free(want);
    free(err);

    /* the shipped example must stay valid (when run from the source tree) */
    if (access("packaging/config.example.json", R_OK) == 0) {
        CHECK(config_load("packaging/config.example.json", &cfg, &err) == 0);
        CHECK_STR(err, NULL);
        config_free(&cfg);
    }
    free(good);
    free(bad);
}

/* A key path built under a parent of any length stays inside its buffer
 * (a parent of 190 characters plus "." once wrote one byte past it) and is
 * terminated. */
static void test_key_path_bound(void)
{
    for (size_t plen = 150; plen <= JF_KEY_MAX + 4; plen++) {
        char parent[JF_KEY_MAX + 8];
        memset(parent, 'p', plen);
        parent[plen] = '\0';
        const char *names[] = { "plain", "not plain", "quote\"d", "" };
        for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
            char buf[JF_KEY_MAX + 16];
            memset(buf, 0x5a, sizeof buf);
            jf_key(buf, parent, names[i]);
            bool untouched = true;
            for (size_t k = JF_KEY_MAX; k < sizeof buf; k++)
                untouched = untouched && buf[k] == 0x5a;
            CHECK(untouched);
            CHECK(memchr(buf, '\0', JF_KEY_MAX) != NULL);
        }
    }
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/evio-test-config.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_minimal_defaults();
    test_full();
    test_derived_defaults();
    test_bad();
    test_ignore_patterns();
    test_mtu_auto();
    test_secrets_not_shown();
    test_duplicate_key();
    test_password_file();
    test_load();
    test_key_path_bound();

    for (int i = 0; i < n_tmp_files; i++) {
        unlink(tmp_files[i]);
        free(tmp_files[i]);
    }
    rmdir(tmpdir);
    return check_report("test_config");
}
