/* Unit tests for lib/mtu.c: "mtu": "auto". The overhead is the datapath's
 * (checked against tincan's own constants), the bridge MTU is the route's
 * minus it with the floors of evio.conf(5), the agent's value reaches its
 * helpers through the environment, and a route to this host itself (an
 * XMPP server on 127.0.0.1) is never taken for the underlay. */
#include "evio/config.h"
#include "evio/mtu.h"
#include "check.h"
#include "../../tincan/dtls.h"
#include "../../tincan/fastpath.h"
#include "../../tincan/rec.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void test_overhead(void)
{
    /* the record evio may send is the larger of its own and a DTLS one */
    CHECK(MTU_DTLS_RECORD >= REC_OVERHEAD);
    CHECK(MTU_TURN_CHANNEL == FASTPATH_CHANNEL_HDR);
    CHECK(MTU_OVERHEAD == 20 + 8 + 4 + 37 + 14 + 4);
}

static void test_for_route(void)
{
    const char *note = "x";
    CHECK(mtu_for_route(1500, &note) == 1413 && note == NULL);   /* the usual Ethernet */
    CHECK(mtu_for_route(1400, &note) == 1313 && note == NULL);   /* this machine's */
    CHECK(mtu_for_route(1492, &note) == 1405 && note == NULL);   /* PPPoE */
    CHECK(mtu_for_route(9000, &note) == 8913 && note == NULL);
    CHECK(mtu_for_route(1367, &note) == 1280 && note == NULL);   /* IPv6's floor exactly */
    CHECK(mtu_for_route(1366, &note) == 1279 && note && strstr(note, "IPv6"));
    CHECK(mtu_for_route(663, &note) == 576 && note && strstr(note, "IPv6"));
    CHECK(mtu_for_route(662, &note) == 576 && note && strstr(note, "clamped up"));
    CHECK(mtu_for_route(68, &note) == 576 && note && strstr(note, "clamped up"));
    CHECK(mtu_for_route(65536, &note) == 9000 && note && strstr(note, "clamped down"));
    CHECK(mtu_for_route(1500, NULL) == 1413);
}

static void load(struct config *cfg, const char *xmpp_host)
{
    char text[512];
    char *err = NULL;
    snprintf(text, sizeof text,
             "{\"xmpp\":{\"host\":\"%s\",\"user\":\"a@x.example\",\"password\":\"p\"},"
             "\"overlays\":{\"lab\":{\"bridge\":{\"ip\":\"10.1.0.1/24\",\"mtu\":\"auto\"}},"
             "\"k8s\":{\"bridge\":{\"ip\":\"10.2.0.1/24\",\"mtu\":1300}}}}", xmpp_host);
    if (config_parse(text, "t.json", cfg, &err)) {
        fprintf(stderr, "config: %s\n", err ? err : "?");
        exit(1);
    }
    free(err);
}

/* The agent decides and exports; a helper started after takes its value. */
static void test_env_handoff(void)
{
    struct config cfg;
    load(&cfg, "xmpp.example");
    cfg.overlays[0].mtu = 1313;     /* as mtu_resolve would have set it */
    unsetenv(MTU_ENV);
    CHECK(mtu_export(&cfg) == 0);
    CHECK_STR(getenv(MTU_ENV), "lab=1313");
    config_free(&cfg);

    load(&cfg, "xmpp.example");
    setenv(MTU_ENV, "labx=700,lab=1234", 1);
    mtu_resolve(&cfg, "test", true);
    const struct config_overlay *lab = config_find_overlay(&cfg, "lab");
    const struct config_overlay *k8s = config_find_overlay(&cfg, "k8s");
    CHECK(lab && lab->mtu == 1234);
    CHECK_STR(lab ? lab->mtu_source : NULL, "auto: from evio (" MTU_ENV ")");
    CHECK(k8s && k8s->mtu == 1300);                 /* an integer is left alone */
    CHECK_STR(k8s ? k8s->mtu_source : NULL, "config");
    config_free(&cfg);

    /* the agent itself decides: an MTU_ENV it inherited is not its own */
    load(&cfg, "xmpp.example");
    mtu_resolve(&cfg, "agent", false);
    CHECK(!strstr(cfg.overlays[0].mtu_source, MTU_ENV) && cfg.overlays[0].mtu != 1234);
    config_free(&cfg);

    /* out of range or malformed: not taken, the route decides */
    static const char *const bad[] = { "lab=100", "lab=99999", "lab=12x", "lab=", "la=1300" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        load(&cfg, "xmpp.example");
        setenv(MTU_ENV, bad[i], 1);
        mtu_resolve(&cfg, "test", true);
        CHECK(!strncmp(cfg.overlays[0].mtu_source, "auto: ", 6));
        CHECK(!strstr(cfg.overlays[0].mtu_source, MTU_ENV));
        CHECK(cfg.overlays[0].mtu >= MTU_MIN && cfg.overlays[0].mtu <= MTU_MAX);
        config_free(&cfg);
    }
    unsetenv(MTU_ENV);
}

/* Against this machine's real routes: whatever they are, a loopback
 * destination is refused, the default route (when there is one) gives
 * its device's MTU, and an XMPP server on 127.0.0.1 is passed over for
 * the default route. */
static void test_real_routes(void)
{
    struct mtu_route r;
    struct in_addr lo;
    inet_pton(AF_INET, "127.0.0.1", &lo);
    CHECK(mtu_route_get(lo.s_addr, &r) == EADDRNOTAVAIL);

    int def = mtu_route_get(0, &r);
    CHECK(def == 0 || def == ENETUNREACH);
    if (def == 0)
        CHECK(r.dev[0] && r.mtu >= 68 && r.mtu <= 65535);

    struct config cfg;
    load(&cfg, "127.0.0.1");
    unsetenv(MTU_ENV);
    mtu_resolve(&cfg, "test", true);
    const char *src = cfg.overlays[0].mtu_source;
    printf("auto here: mtu %d (%s)\n", cfg.overlays[0].mtu, src);
    if (def == 0) {
        char want[160];
        snprintf(want, sizeof want, "auto: default route via %s, %s mtu %d, minus 87", r.dev,
                 r.from_metric ? "route" : "device", r.mtu);
        CHECK(!strncmp(src, want, strlen(want)));
        CHECK(cfg.overlays[0].mtu == mtu_for_route(r.mtu, NULL));
    } else {
        CHECK(strstr(src, "no route") && cfg.overlays[0].mtu == 1413);
    }
    config_free(&cfg);
}

int main(void)
{
    test_overhead();
    test_for_route();
    test_env_handoff();
    test_real_routes();
    return check_report("test_mtu");
}
