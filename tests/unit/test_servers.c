/* Unit tests for servers_choose (tincan/servers.c): which STUN and TURN
 * servers a new ICE agent gets, for the states a probe can leave them in. */
#include "check.h"
#include "../../tincan/servers.h"

#define STUN(st, addr) { SERVER_STUN, SERVER_##st, addr, false }
#define TURN(st, addr, ans) { SERVER_TURN, SERVER_##st, addr, ans }

static int choose(const struct server_view *v, int n, bool relay_only, char *turns)
{
    bool use[16];
    int st = servers_choose(v, n, relay_only, use);
    for (int i = 0; i < n; i++)
        turns[i] = use[i] ? 'T' : '.';
    turns[n] = '\0';
    return st;
}

int main(void)
{
    char t[17];

    /* a working (or not yet probed) TURN server: it alone, no STUN server
     * beside it (libnice drops the STUN answers then) */
    struct server_view a[] = { STUN(OK, true), TURN(OK, true, true) };
    CHECK(choose(a, 2, false, t) == -1);
    CHECK_STR(t, ".T");
    struct server_view b[] = { STUN(OK, true), TURN(PROBING, true, false) };
    CHECK(choose(b, 2, false, t) == -1);
    CHECK_STR(t, ".T");

    /* a TURN server that refused us: the STUN server instead */
    struct server_view c[] = { STUN(OK, true), TURN(ERROR, true, true) };
    CHECK(choose(c, 2, false, t) == 0);
    CHECK_STR(t, "..");
    /* no STUN server configured: the TURN server that answered, as a STUN server */
    struct server_view d[] = { TURN(ERROR, true, true) };
    CHECK(choose(d, 1, false, t) == 0);
    CHECK_STR(t, ".");
    /* ... but not one that never answered */
    struct server_view e[] = { TURN(ERROR, true, false) };
    CHECK(choose(e, 1, false, t) == -1);
    /* a working TURN server among broken ones: only it */
    struct server_view f[] = { TURN(ERROR, true, true), STUN(OK, true), TURN(OK, true, true) };
    CHECK(choose(f, 3, false, t) == -1);
    CHECK_STR(t, "..T");

    /* STUN servers: the first that works, else the first not yet probed;
     * unresolved and broken ones never */
    struct server_view g[] = { STUN(RESOLVING, false), STUN(ERROR, true), STUN(PROBING, true),
                               STUN(OK, true) };
    CHECK(choose(g, 4, false, t) == 3);
    struct server_view h[] = { STUN(RESOLVING, false), STUN(ERROR, true), STUN(PROBING, true) };
    CHECK(choose(h, 3, false, t) == 2);
    struct server_view i[] = { STUN(ERROR, true), TURN(RESOLVING, false, false) };
    CHECK(choose(i, 2, false, t) == -1);
    CHECK_STR(t, "..");
    /* a name resolved before keeps its address while it is looked up again */
    struct server_view j[] = { TURN(OK, true, true) };
    CHECK(choose(j, 1, false, t) == -1);
    CHECK_STR(t, "T");

    /* relay_only: every resolved TURN server, broken or not, and no STUN */
    struct server_view k[] = { STUN(OK, true), TURN(ERROR, true, true), TURN(RESOLVING, false, false),
                               TURN(OK, true, true) };
    CHECK(choose(k, 4, true, t) == -1);
    CHECK_STR(t, ".T.T");

    CHECK(choose(k, 0, false, t) == -1);
    return check_report("test_servers");
}
