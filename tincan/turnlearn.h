/* Whom to believe about a link's TURN channel. A relayed link learns the
 * channel it sends on from the ChannelData the server forwards from the
 * peer (fastpath.h); a datagram's source address is easy to forge, so a
 * channel counts only once the record it carries authenticates under the
 * link's keys (a dry run that marks nothing: rec_check), and a forged one
 * changes nothing. Pure: the caller reads the datagram and says whether it
 * came from one of the link's TURN servers. */
#ifndef TINCAN_TURNLEARN_H
#define TINCAN_TURNLEARN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum turnlearn_verdict {
    TURNLEARN_OTHER,       /* not ChannelData with a data record (rec.h) from a server */
    TURNLEARN_FORGED,      /* looks the part, but the record does not authenticate */
    TURNLEARN_AUTHENTIC,   /* *CHANNEL is the peer's */
};

/* Whether record REC (LEN bytes, borrowed) authenticates, without using it
 * up (rec_check, dtls_rec_authentic). */
typedef bool (*turnlearn_auth_fn)(void *aux, const uint8_t *rec, size_t len);

/* Judges datagram DGRAM of LEN bytes, FROM_SERVER if its source is one of
 * the link's TURN servers; on TURNLEARN_AUTHENTIC sets *CHANNEL. */
enum turnlearn_verdict turnlearn_judge(const uint8_t *dgram, size_t len, bool from_server,
                                       turnlearn_auth_fn auth, void *aux, uint16_t *channel);

#endif
