/* evioctl: the one client for the control sockets of evio, evio-tincan and
 * evio-switchctl. Sends a command, prints the result (JSON, or a readable
 * table for "status"); "wait" polls evio's status until the node is ready. */
#include "evio/ctl.h"
#include "evio/ctlmsg.h"
#include "evio/version.h"

#include "evio/timing.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


static void usage(FILE *f)
{
    fprintf(f,
"usage: evioctl [OPTIONS] COMMAND [ARGS]\n"
"Talk to a running evio daemon over its control socket.\n"
"\n"
"Options:\n"
"  -s, --socket PATH    control socket to use\n"
"  -r, --run-dir DIR    run directory of the node (default /run/evio)\n"
"  -t, --target NAME    evio (default), tincan or switchctl: which daemon\n"
"                       under the run directory\n"
"  -j, --json           print results as JSON (status and topology print\n"
"                       tables otherwise)\n"
"  -d, --dot            topology only: print a Graphviz graph of the ring and\n"
"                       this node's edges (e.g. | dot -Tsvg > ring.svg)\n"
"  -T, --timeout MS     how long to wait for the answer (default 5000)\n"
"  -h, --help           this text\n"
"  -V, --version        print the version\n"
"\n"
"ARGS is one JSON object, or key=value words (values that parse as JSON are\n"
"taken as JSON, others as strings).\n"
"\n"
"Commands of evio: status, topology [overlay=NAME], list-commands, log/set\n"
"  wait [--timeout S]  poll evio's status until the node is ready (every\n"
"                      overlay's bridge up with its address); exit 0 when\n"
"                      ready, 1 if not within S seconds (default 30)\n"
"Commands of evio-tincan: node/info, link/list, link/stats, link/local, ...\n"
"  (list-commands)\n"
"Commands of evio-switchctl: bridge/status, fdb/show, flows/show, ... (list-commands)\n"
"Tables from evio-switchctl (no --target needed; ARGS: [overlay=NAME]):\n"
"  fdb     learnt MACs: port, node behind it, age\n"
"  flows   the flows evio-switchctl installed, as ovs-ofctl prints them\n"
"  ports   the bridge's ports, the node behind each, and their counters\n"
"\n"
"Exit status: 0 success, 1 the daemon reported an error, 2 usage error,\n"
"3 the daemon could not be reached.\n");
}

/* Builds the args object from the words after the command. */
static json_t *parse_args(int argc, char **argv, char **err)
{
    if (argc == 1 && argv[0][0] == '{') {
        json_error_t jerr;
        json_t *j = json_loads(argv[0], 0, &jerr);
        if (!j || !json_is_object(j)) {
            if (asprintf(err, "arguments: not a JSON object: %s", j ? "" : jerr.text) < 0)
                *err = NULL;
            json_decref(j);
            return NULL;
        }
        return j;
    }
    json_t *obj = json_object();
    for (int i = 0; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i]) {
            if (asprintf(err, "argument \"%s\": expected key=value or one JSON object",
                         argv[i]) < 0)
                *err = NULL;
            json_decref(obj);
            return NULL;
        }
        *eq = '\0';
        json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
        json_object_set_new(obj, argv[i], v ? v : json_string(eq + 1));
    }
    return obj;
}

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

static long long jint(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static void human_bytes(long long n, char *buf, size_t size)
{
    const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = n;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void print_fdb(json_t *r)
{
    size_t i;
    json_t *e;
    printf("%-10s %-17s %-15s %-32s %6s\n", "OVERLAY", "MAC", "PORT", "NODE", "AGE");
    json_array_foreach(json_object_get(r, "entries"), i, e)
        printf("%-10s %-17s %-15s %-32s %5llds\n", jstr(e, "overlay"), jstr(e, "mac"),
               jstr(e, "port"), jstr(e, "peer"), jint(e, "age_s"));
}

static void print_flows(json_t *r)
{
    size_t i, j;
    json_t *b, *f;
    json_array_foreach(json_object_get(r, "bridges"), i, b) {
        long long age = jint(b, "age_ms");
        printf("%sbridge %s (overlay %s): %zu flows", i ? "\n" : "", jstr(b, "bridge"),
               jstr(b, "overlay"), json_array_size(json_object_get(b, "flows")));
        if (age >= 0)
            printf(", counters as of %.1f s ago\n", age / 1000.0);
        else
            printf(", not read from the switch yet\n");
        json_array_foreach(json_object_get(b, "flows"), j, f)
            printf(" %s\n", jstr(f, "flow"));
    }
}

static void print_ports(json_t *r)
{
    size_t i, j;
    json_t *b, *p;
    json_array_foreach(json_object_get(r, "bridges"), i, b) {
        printf("%sbridge %s (overlay %s): openflow %s\n", i ? "\n" : "", jstr(b, "bridge"),
               jstr(b, "overlay"), jstr(b, "openflow"));
        printf("  %-15s %6s  %-32s %10s %10s %10s %10s\n", "PORT", "OFPORT", "NODE",
               "RX_PKTS", "RX", "TX_PKTS", "TX");
        json_array_foreach(json_object_get(b, "ports"), j, p) {
            char rx[32], tx[32];
            human_bytes(jint(p, "rx_bytes"), rx, sizeof rx);
            human_bytes(jint(p, "tx_bytes"), tx, sizeof tx);
            json_t *peer = json_object_get(p, "peer");
            printf("  %-15s %6lld  %-32s %10lld %10s %10lld %10s\n", jstr(p, "port"),
                   jint(p, "ofport"), json_is_string(peer) ? json_string_value(peer) : "(local)",
                   jint(p, "rx_packets"), rx, jint(p, "tx_packets"), tx);
            /* evio-switchctl's refusals on this port (issue 16), when any */
            static const char *const guard[] = { "packet_ins_metered", "mac_queries_over_budget",
                                                 "macs_held", "macs_over_limit",
                                                 "flood_bad_root" };
            const char *sep = "    refused:";
            for (size_t k = 0; k < sizeof guard / sizeof guard[0]; k++)
                if (jint(p, guard[k])) {
                    printf("%s %s=%lld", sep, guard[k], jint(p, guard[k]));
                    sep = "";
                }
            if (!*sep)
                printf("\n");
        }
        json_t *st = json_object_get(b, "stats");
        const char *key;
        json_t *v;
        printf("  stats:");
        json_object_foreach(st, key, v)
            printf(" %s=%lld", key, (long long)json_integer_value(v));
        printf("\n");
    }
}

/* The daemons, by --target name, and their sockets under the run directory. */
static const struct {
    const char *name, *sock;
} targets[] = {
    { "evio", CTL_SOCK_EVIO },
    { "tincan", CTL_SOCK_TINCAN },
    { "switchctl", CTL_SOCK_SWITCHCTL },
};

/* Tables evioctl offers on top of the daemons' own commands. */
struct view {
    const char *name, *target, *cmd;
    void (*print)(json_t *);
};
static const struct view views[] = {
    { "fdb", "switchctl", CTL_CMD_FDB_SHOW, print_fdb },
    { "flows", "switchctl", CTL_CMD_FLOWS_SHOW, print_flows },
    { "ports", "switchctl", CTL_CMD_BRIDGE_STATUS, print_ports },
};

static void print_status(json_t *r)
{
    json_t *x = json_object_get(r, "xmpp");
    printf("node %s\n", jstr(r, "node_id"));
    if (json_is_true(json_object_get(r, "ready")))
        printf("ready (after %.1f s)\n", jint(r, "ready_after_ms") / 1000.0);
    else
        printf("not ready: waiting for %s\n", json_is_integer(json_object_get(r, "ready_after_ms"))
                                               ? "a bridge that lost its address"
                                               : "the bridges' addresses");
    printf("xmpp %s (%s)\n", jstr(x, "state"), jstr(x, "server"));
    if (strcmp(jstr(x, "state"), "connected") && *jstr(x, "last_error"))
        printf("  last error: %s\n", jstr(x, "last_error"));

    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(r, "helpers"), i, h)
        printf("helper %-15s pid %-7lld restarts %lld  %s\n", jstr(h, "name"), jint(h, "pid"),
               jint(h, "restarts"), jstr(h, "state"));
    json_array_foreach(json_object_get(r, "servers"), i, h) {
        const char *err = jstr(h, "error");
        printf("%s %-22s %-9s %s%s(%llds)%s%s\n", jstr(h, "kind"), jstr(h, "server"),
               jstr(h, "state"), err, *err ? " " : "", jint(h, "since_s"),
               *jstr(h, "used_as") ? "  used as " : "  not used", jstr(h, "used_as"));
    }

    json_t *ov;
    json_array_foreach(json_object_get(r, "overlays"), i, ov) {
        printf("\noverlay %s  bridge %s  address %s  (%s)\n", jstr(ov, "name"),
               jstr(ov, "bridge"), jstr(ov, "ip"),
               json_is_true(json_object_get(ov, "bridge_ready")) ? "ready" : "not ready");
        if (json_is_integer(json_object_get(ov, "mtu")))
            printf("  mtu %lld (%s)\n", jint(ov, "mtu"), jstr(ov, "mtu_source"));
        json_t *peers = json_object_get(ov, "peers");
        printf("  peers seen: %zu\n", json_array_size(peers));
        size_t j;
        json_t *p;
        json_array_foreach(peers, j, p)
            printf("    %s  %s\n", jstr(p, "node_id"), jstr(p, "state"));

        json_t *links = json_object_get(ov, "links");
        printf("  links: %zu\n", json_array_size(links));
        if (!json_array_size(links))
            continue;
        printf("    %-32s  %-10s %-12s %-6s %-6s %7s %12s %8s %12s %8s %7s\n", "PEER", "STATE",
               "TYPE", "LOCAL", "REMOTE", "PAIR", "TX", "FRAMES", "RX", "FRAMES", "AGE");
        json_t *l;
        json_array_foreach(links, j, l) {
            char tx[32], rx[32];
            human_bytes(jint(l, "tx_bytes"), tx, sizeof tx);
            human_bytes(jint(l, "rx_bytes"), rx, sizeof rx);
            /* how long the selected pair has been the one (-1: none yet) */
            char since[24] = "-";
            if (jint(l, "pair_since_s") >= 0 && json_object_get(l, "pair_since_s"))
                snprintf(since, sizeof since, "%llds", jint(l, "pair_since_s"));
            printf("    %-32s  %-10s %-12s %-6s %-6s %7s %12s %8lld %12s %8lld %6llds\n",
                   jstr(l, "peer"), jstr(l, "state"), jstr(l, "edge_type"),
                   jstr(l, "local_type"), jstr(l, "remote_type"), since, tx,
                   jint(l, "tx_frames"), rx, jint(l, "rx_frames"), jint(l, "age_s"));
        }
    }
}

static const char *short_id(const char *hex, char out[13])
{
    snprintf(out, 13, "%.12s", hex);
    return out;
}

static void print_topology(json_t *r)
{
    size_t i, j;
    json_t *ov, *e;
    json_array_foreach(json_object_get(r, "overlays"), i, ov) {
        printf("%soverlay %s: node %s, %lld peers, %lld successors, %lld long-distance\n",
               i ? "\n" : "", jstr(ov, "name"), jstr(ov, "self"), jint(ov, "peers"),
               jint(ov, "min_successors"), jint(ov, "long_distance"));
        printf("  planned: %zu\n", json_array_size(json_object_get(ov, "planned")));
        json_array_foreach(json_object_get(ov, "planned"), j, e)
            printf("    %-14s %s  %s\n", jstr(e, "type"), jstr(e, "peer"), jstr(e, "edge"));
        json_t *edges = json_object_get(ov, "edges");
        printf("  edges: %zu\n", json_array_size(edges));
        if (!json_array_size(edges))
            continue;
        printf("    %-32s  %-14s %-10s %-9s %-10s %6s  %s\n", "PEER", "TYPE", "STATE", "ASKED-BY",
               "WANTED-BY", "AGE", "LAST ERROR");
        json_array_foreach(edges, j, e) {
            bool l = json_is_true(json_object_get(e, "local_want"));
            bool rw = json_is_true(json_object_get(e, "remote_want"));
            printf("    %-32s  %-14s %-10s %-9s %-10s %5llds  %s\n", jstr(e, "peer"),
                   jstr(e, "type"), jstr(e, "state"),
                   json_is_true(json_object_get(e, "initiator")) ? "us" : "peer",
                   l && rw ? "both" : l ? "us" : rw ? "peer" : "none", jint(e, "state_age_s"),
                   json_object_get(e, "last_error") ? jstr(e, "last_error") : "");
        }
    }
}

/* The ring (dotted, in ID order) and this node's edges, colour by type;
 * an edge not yet connected is dashed. */
static void print_dot(json_t *r)
{
    static const struct { const char *type, *color; } colors[] = {
        { "successor", "black" }, { "long_distance", "blue" }, { "static", "darkgreen" },
        { "on_demand", "orange" }, { "incoming", "gray40" },
    };
    size_t i, j;
    json_t *ov, *e;
    char a[13];
    printf("digraph evio {\n  layout=circo;\n  node [shape=box, fontname=monospace];\n");
    json_array_foreach(json_object_get(r, "overlays"), i, ov) {
        const char *self = jstr(ov, "self");
        printf("  subgraph \"cluster_%s\" {\n    label=\"overlay %s\";\n", jstr(ov, "name"),
               jstr(ov, "name"));
        printf("    \"%s/%s\" [label=\"%s\", style=bold];\n", jstr(ov, "name"), self,
               short_id(self, a));
        const char *prev = self;
        json_t *ring = json_object_get(ov, "ring");
        for (j = 0; j <= json_array_size(ring); j++) {
            const char *id = j < json_array_size(ring)
                             ? json_string_value(json_array_get(ring, j)) : self;
            if (!id)
                continue;
            if (j < json_array_size(ring))
                printf("    \"%s/%s\" [label=\"%s\"];\n", jstr(ov, "name"), id,
                       short_id(id, a));
            if (strcmp(prev, id))
                printf("    \"%s/%s\" -> \"%s/%s\" [style=dotted, color=gray, arrowhead=none];\n",
                       jstr(ov, "name"), prev, jstr(ov, "name"), id);
            prev = id;
        }
        json_array_foreach(json_object_get(ov, "edges"), j, e) {
            const char *type = jstr(e, "type"), *color = "red";
            for (size_t k = 0; k < sizeof colors / sizeof *colors; k++)
                if (!strcmp(colors[k].type, type))
                    color = colors[k].color;
            bool up = !strcmp(jstr(e, "state"), "connected");
            bool in = !strcmp(type, "incoming");     /* drawn from the peer that wants it */
            printf("    \"%s/%s\" -> \"%s/%s\" [label=\"%s\", color=%s%s];\n",
                   jstr(ov, "name"), in ? jstr(e, "peer") : self, jstr(ov, "name"),
                   in ? self : jstr(e, "peer"), in ? jstr(e, "remote_type") : type, color,
                   up ? "" : ", style=dashed");
        }
        printf("  }\n");
    }
    printf("}\n");
}

#define WAIT_DEFAULT_S  30
#define WAIT_POLL_MS    200

/* evioctl wait [--timeout S]: asks evio for its status every WAIT_POLL_MS
 * until it says "ready" (a daemon not answering yet counts as not ready:
 * wait may run right after evio was started). Returns the exit status. */
static int cmd_wait(const char *socket_path, int argc, char **argv, int call_ms)
{
    double secs = WAIT_DEFAULT_S;
    for (int i = 0; i < argc; i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
            v = argv[++i];
        else if (!strncmp(argv[i], "--timeout=", 10))
            v = argv[i] + 10;
        char *end = NULL;
        if (v)
            secs = strtod(v, &end);
        if (!v || end == v || *end || !(secs > 0) || secs > 86400) {
            fprintf(stderr, "evioctl: wait: %s \"%s\": usage: evioctl wait [--timeout SECONDS]"
                    " (SECONDS > 0)\n", v ? "bad timeout" : "unexpected argument",
                    v ? v : argv[i]);
            return 2;
        }
    }

    int64_t start = monotonic_ms(), deadline = start + (int64_t)(secs * 1000);
    char why[4500] = "no answer yet";
    for (;;) {
        int64_t now = monotonic_ms();
        int left = (int)(deadline - now);
        json_t *r = NULL;
        char *err = NULL;
        int rc = ctl_call(socket_path, CTL_CMD_STATUS, NULL, left < call_ms ? (left > 0 ? left : 1)
                                                                      : call_ms, &r, &err);
        if (!rc && json_is_true(json_object_get(r, "ready"))) {
            printf("evio is ready (node %s, ready %.1f s after it started)\n",
                   jstr(r, "node_id"), jint(r, "ready_after_ms") / 1000.0);
            json_decref(r);
            return 0;
        }
        if (rc) {
            snprintf(why, sizeof why, "%s", err ? err : strerror(rc));
        } else {
            size_t i;
            json_t *ov;
            snprintf(why, sizeof why, "not ready");
            json_array_foreach(json_object_get(r, "overlays"), i, ov)
                if (!json_is_true(json_object_get(ov, "bridge_ready"))) {
                    snprintf(why, sizeof why, "bridge %s of overlay %s is not up with %s",
                             jstr(ov, "bridge"), jstr(ov, "name"), jstr(ov, "ip"));
                    break;
                }
        }
        free(err);
        json_decref(r);
        now = monotonic_ms();
        if (now >= deadline) {
            fprintf(stderr, "evioctl: evio not ready after %g s: %s\n", secs, why);
            return 1;
        }
        int64_t nap = deadline - now < WAIT_POLL_MS ? deadline - now : WAIT_POLL_MS;
        struct timespec ts = { 0, (long)nap * 1000000L };
        nanosleep(&ts, NULL);
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "socket", required_argument, NULL, 's' },
        { "run-dir", required_argument, NULL, 'r' },
        { "target", required_argument, NULL, 't' },
        { "json", no_argument, NULL, 'j' },
        { "dot", no_argument, NULL, 'd' },
        { "timeout", required_argument, NULL, 'T' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *socket_path = NULL, *run_dir = "/run/evio", *target = NULL;
    bool as_json = false, as_dot = false;
    int timeout = 5000, c;

    while ((c = getopt_long(argc, argv, "+s:r:t:jdT:hV", opts, NULL)) != -1) {
        switch (c) {
        case 's': socket_path = optarg; break;
        case 'r': run_dir = optarg; break;
        case 't': target = optarg; break;
        case 'j': as_json = true; break;
        case 'd': as_dot = true; break;
        case 'T': timeout = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("evioctl %s\n", EVIO_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind];
    if (!strcmp(cmd, "wait")) {
        if (target && strcmp(target, "evio")) {
            fprintf(stderr, "evioctl: wait applies to evio, not to %s\n", target);
            return 2;
        }
        char wpath[4096];
        if (!socket_path) {
            snprintf(wpath, sizeof wpath, "%s/%s", run_dir, CTL_SOCK_EVIO);
            socket_path = wpath;
        }
        return cmd_wait(socket_path, argc - optind - 1, argv + optind + 1,
                        timeout > 0 ? timeout : 5000);
    }
    const struct view *view = NULL;
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++)
        if (!strcmp(cmd, views[i].name))
            view = &views[i];
    if (view && target && strcmp(target, view->target)) {
        fprintf(stderr, "evioctl: %s is a table of evio-%s, not of %s\n", cmd, view->target,
                target);
        return 2;
    }
    if (view) {
        target = view->target;
        cmd = view->cmd;
    }
    if (!target)
        target = "evio";
    const char *sock = NULL;
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
        if (!strcmp(target, targets[i].name))
            sock = targets[i].sock;
    if (!sock) {
        fprintf(stderr, "evioctl: --target: expected evio, tincan or switchctl, got \"%s\"\n",
                target);
        return 2;
    }
    if (timeout <= 0) {
        fprintf(stderr, "evioctl: --timeout: expected a positive number of milliseconds\n");
        return 2;
    }

    char path[4096];
    if (!socket_path) {
        snprintf(path, sizeof path, "%s/%s", run_dir, sock);
        socket_path = path;
    }

    /* "--json" and "--dot" may also follow the command ("evioctl status --json") */
    int nargs = argc - optind - 1;
    char **args_v = argv + optind + 1;
    while (nargs > 0 && (!strcmp(args_v[nargs - 1], "--json") || !strcmp(args_v[nargs - 1], "--dot"))) {
        if (!strcmp(args_v[nargs - 1], "--json"))
            as_json = true;
        else
            as_dot = true;
        nargs--;
    }
    bool is_topology = !strcmp(cmd, CTL_CMD_TOPOLOGY) && !strcmp(target, "evio");
    if (as_dot && !is_topology) {
        fprintf(stderr, "evioctl: --dot applies to the topology command only\n");
        return 2;
    }

    char *err = NULL;
    json_t *args = parse_args(nargs, args_v, &err);
    if (!args) {
        fprintf(stderr, "evioctl: %s\n", err ? err : "bad arguments");
        free(err);
        return 2;
    }

    json_t *result;
    int rc = ctl_call(socket_path, cmd, args, timeout, &result, &err);
    json_decref(args);
    if (rc) {
        fprintf(stderr, "evioctl: %s\n", err ? err : strerror(rc));
        free(err);
        return rc == EPROTO ? 1 : 3;
    }

    if (view && !as_json && json_is_object(result)) {
        view->print(result);
    } else if (!strcmp(cmd, CTL_CMD_STATUS) && !strcmp(target, "evio") && !as_json
        && json_is_object(result)) {
        print_status(result);
    } else if (is_topology && as_dot && json_is_object(result)) {
        print_dot(result);
    } else if (is_topology && !as_json && json_is_object(result)) {
        print_topology(result);
    } else {
        char *text = json_dumps(result, JSON_INDENT(2) | JSON_ENCODE_ANY | JSON_SORT_KEYS);
        if (text)
            puts(text);
        free(text);
    }
    json_decref(result);
    return 0;
}
