/* Unit tests for tincan/turnlearn.c: a relayed link learns its TURN channel
 * only from ChannelData whose record authenticates under the link's keys
 * (real records from tincan/rec.c); a forged one from the server's address,
 * a replayed record under another channel, STUN, or anything from another
 * address changes nothing, and judging uses nothing up: the authentic record
 * still opens afterwards. */
#include "check.h"
#include "../../tincan/fastpath.h"
#include "../../tincan/rec.h"
#include "../../tincan/turnlearn.h"

#include <stdlib.h>
#include <string.h>

#define BUF 2048

static uint8_t scratch[BUF];

/* the link's check: a dry run on the receiver's keys */
static bool auth(void *aux, const uint8_t *rec, size_t len)
{
    return rec_check(aux, rec, len, scratch, sizeof scratch) == REC_OK;
}

/* ChannelData on CHANNEL around PAYLOAD into OUT; returns its length */
static size_t channel_data(uint16_t channel, const uint8_t *payload, size_t len, uint8_t *out)
{
    out[0] = (uint8_t)(channel >> 8);
    out[1] = (uint8_t)channel;
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    memcpy(out + FASTPATH_CHANNEL_HDR, payload, len);
    return FASTPATH_CHANNEL_HDR + len;
}

int main(void)
{
    uint8_t s1[REC_SECRET_LEN], s2[REC_SECRET_LEN];
    for (int i = 0; i < REC_SECRET_LEN; i++) {
        s1[i] = (uint8_t)(i * 3 + 1);
        s2[i] = (uint8_t)(i * 5 + 2);
    }
    struct rec peer, me, attacker;
    CHECK(rec_init(&peer, s1, s2, REC_REKEY_DEFAULT));
    CHECK(rec_init(&me, s2, s1, REC_REKEY_DEFAULT));
    uint8_t other[REC_SECRET_LEN] = { 7 };
    CHECK(rec_init(&attacker, other, other, REC_REKEY_DEFAULT));

    uint8_t frame[200], rec[BUF], dgram[BUF], out[BUF];
    memset(frame, 0xab, sizeof frame);
    uint16_t channel = 0;
    size_t got = 0;

    /* forged: a record of the right shape under keys the attacker has,
     * random bytes behind a record header, from the server's address */
    size_t n = rec_seal(&attacker, frame, sizeof frame, rec);
    size_t dn = channel_data(0x4666, rec, n, dgram);
    CHECK(turnlearn_judge(dgram, dn, true, auth, &me, &channel) == TURNLEARN_FORGED);
    for (int k = 0; k < 200; k++) {
        for (size_t i = 2; i < n; i++)
            rec[i] = (uint8_t)rand();
        dn = channel_data((uint16_t)(0x4000 + k), rec, n, dgram);
        CHECK(turnlearn_judge(dgram, dn, true, auth, &me, &channel) == TURNLEARN_FORGED);
    }
    CHECK(channel == 0);
    CHECK(me.c.drop_auth == 0 && me.c.drop_replay == 0 && me.c.drop_malformed == 0);

    /* authentic, but not from one of the link's servers: not believed */
    n = rec_seal(&peer, frame, sizeof frame, rec);
    dn = channel_data(0x4001, rec, n, dgram);
    CHECK(turnlearn_judge(dgram, dn, false, auth, &me, &channel) == TURNLEARN_OTHER);
    /* not ChannelData, or not a record inside */
    uint8_t stun[24] = { 0x01, 0x01, 0x00, 0x04 };
    CHECK(turnlearn_judge(stun, sizeof stun, true, auth, &me, &channel) == TURNLEARN_OTHER);
    uint8_t notrec[12];
    memset(notrec, 0x05, sizeof notrec);
    dn = channel_data(0x4001, notrec, sizeof notrec, dgram);
    CHECK(turnlearn_judge(dgram, dn, true, auth, &me, &channel) == TURNLEARN_OTHER);
    dn = channel_data(0x4001, rec, n, dgram);
    CHECK(turnlearn_judge(dgram, dn - 1, true, auth, &me, &channel) == TURNLEARN_OTHER);
    /* DTLS (a re-handshake's datagram) is not a record: neither taught nor forged */
    uint8_t hs[40] = { 0x2c, 0x16, 0xfe, 0xfd };
    dn = channel_data(0x4001, hs, sizeof hs, dgram);
    CHECK(turnlearn_judge(dgram, dn, true, auth, &me, &channel) == TURNLEARN_OTHER);
    CHECK(channel == 0);

    /* authentic from the server: learnt, and the record still opens */
    dn = channel_data(0x4001, rec, n, dgram);
    CHECK(turnlearn_judge(dgram, dn, true, auth, &me, &channel) == TURNLEARN_AUTHENTIC);
    CHECK(channel == 0x4001);
    CHECK(rec_open(&me, rec, n, out, sizeof out, &got) == REC_OK && got == sizeof frame
          && memcmp(out, frame, got) == 0);

    /* the same record replayed under another channel: refused */
    channel = 0;
    dn = channel_data(0x4777, rec, n, dgram);
    CHECK(turnlearn_judge(dgram, dn, true, auth, &me, &channel) == TURNLEARN_FORGED);
    CHECK(channel == 0);

    rec_free(&peer);
    rec_free(&me);
    rec_free(&attacker);
    return check_report("test_turnlearn");
}
