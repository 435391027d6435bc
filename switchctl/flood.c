/* evio-switchctl's one-link forwarding decision (see flood.h for the rule). */
#include "flood.h"

#include <string.h>

bool flood_mac_is_link_local(const uint8_t mac[6])
{
    static const uint8_t prefix[5] = { 0x01, 0x80, 0xc2, 0x00, 0x00 };
    return !memcmp(mac, prefix, 5) && (mac[5] & 0xf0) == 0;
}

const char *flood_drop_reason_name(enum flood_drop_reason r)
{
    switch (r) {
    case FLOOD_OK:                return "ok";
    case FLOOD_DROP_RUNT:         return "runt";
    case FLOOD_DROP_BAD_SOURCE:   return "multicast source";
    case FLOOD_DROP_LINK_LOCAL:   return "link-local destination";
    case FLOOD_DROP_UNKNOWN_PORT: return "unknown ingress port";
    case FLOOD_DROP_SAME_PORT:    return "destination behind ingress port";
    }
    return "?";
}

static void flood_drop(struct flood_decision *d, enum flood_drop_reason r)
{
    d->verdict = FLOOD_DROP;
    d->reason = r;
    d->n_out = 0;
}

void flood_decide(const struct flood_port *ports, size_t n_ports, uint32_t in_port,
                  const uint8_t *frame, size_t len, const uint32_t *dst_port,
                  struct flood_decision *d)
{
    if (n_ports > FLOOD_MAX_PORTS)
        n_ports = FLOOD_MAX_PORTS;
    if (len < 14) {
        flood_drop(d, FLOOD_DROP_RUNT);
        return;
    }
    const uint8_t *dst = frame, *src = frame + 6;
    if (flood_mac_is_multicast(src)) {
        flood_drop(d, FLOOD_DROP_BAD_SOURCE);
        return;
    }
    if (flood_mac_is_link_local(dst)) {
        flood_drop(d, FLOOD_DROP_LINK_LOCAL);
        return;
    }

    const struct flood_port *in = NULL;
    for (size_t i = 0; i < n_ports; i++) {
        if (ports[i].port == in_port) {
            in = &ports[i];
            break;
        }
    }
    if (!in) {
        flood_drop(d, FLOOD_DROP_UNKNOWN_PORT);
        return;
    }

    if (!flood_mac_is_multicast(dst) && dst_port) {
        if (*dst_port == in_port) {
            flood_drop(d, FLOOD_DROP_SAME_PORT);
            return;
        }
        d->verdict = FLOOD_UNICAST;
        d->reason = FLOOD_OK;
        d->out[0] = *dst_port;
        d->n_out = 1;
        return;
    }

    d->verdict = FLOOD_FLOOD;
    d->reason = FLOOD_OK;
    d->n_out = 0;
    for (size_t i = 0; i < n_ports; i++) {
        if (ports[i].port == in_port)
            continue;
        if (in->role == FLOOD_PORT_PEER && ports[i].role == FLOOD_PORT_PEER)
            continue;
        d->out[d->n_out++] = ports[i].port;
    }
}
