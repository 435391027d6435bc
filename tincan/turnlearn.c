/* Whom to believe about a link's TURN channel (see turnlearn.h). */
#include "turnlearn.h"

#include "fastpath.h"
#include "rec.h"

enum turnlearn_verdict turnlearn_judge(const uint8_t *dgram, size_t len, bool from_server,
                                       turnlearn_auth_fn auth, void *aux, uint16_t *channel)
{
    uint16_t ch;
    size_t plen;
    if (!from_server || !fastpath_channel_data(dgram, len, &ch, &plen) || plen == 0)
        return TURNLEARN_OTHER;
    const uint8_t *payload = dgram + FASTPATH_CHANNEL_HDR;
    /* only evio's data records teach (a re-handshake's datagram, DTLS
     * itself, is the peer's too, but cannot be checked here) */
    if (payload[0] != REC_TYPE && payload[0] != REC_TYPE_ODD)
        return TURNLEARN_OTHER;
    if (!auth(aux, payload, plen))
        return TURNLEARN_FORGED;
    *channel = ch;
    return TURNLEARN_AUTHENTIC;
}
