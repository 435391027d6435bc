/* The control contract (include/evio/ctlmsg.h): value rules, and one
 * encode/decode pair per message over the typed field reader (jfield.h). */
#include "evio/ctlmsg.h"

#include <string.h>

/* ---- names and value rules --------------------------------------------- */

const char *ctl_link_state_name(enum ctl_link_state s)
{
    static const char *const names[] = {
#define CTL_LINK_STATE_NAME(name, str) str,
        CTL_LINK_STATES(CTL_LINK_STATE_NAME)
#undef CTL_LINK_STATE_NAME
    };
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

static bool ctl_in(char c, const char *set)
{
    return c && strchr(set, c);
}

#define CTL_ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

static bool ctl_span(const char *s, const char *set, size_t min, size_t max)
{
    size_t n = strspn(s, set);
    return s[n] == '\0' && n >= min && n <= max;
}

bool ctl_link_id_valid(const char *s)
{
    return s && ctl_span(s, CTL_ALNUM "._-", 1, CTL_LINK_ID_MAX);
}

bool ctl_ifname_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > CTL_IFNAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
        return false;
    for (const char *p = s; *p; p++)
        if (*p == '/' || *p == ':' || (unsigned char)*p <= ' ' || *p == 0x7f)
            return false;
    return true;
}

/* N bytes as two hex digits each (of HEX), joined by ':' */
static bool ctl_hex_bytes(const char *s, size_t n, const char *hex)
{
    if (!s || strlen(s) != n * 3 - 1)
        return false;
    for (size_t i = 0; i < n * 3 - 1; i++)
        if (i % 3 == 2 ? s[i] != ':' : !ctl_in(s[i], hex))
            return false;
    return true;
}

bool ctl_fpr_valid(const char *s)
{
    return ctl_hex_bytes(s, (CTL_FPR_LEN + 1) / 3, "0123456789ABCDEF");
}

bool ctl_mac_valid(const char *s)
{
    return ctl_hex_bytes(s, (CTL_MAC_LEN + 1) / 3, "0123456789abcdefABCDEF");
}

bool ctl_overlay_valid(const char *s)
{
    return s && ctl_span(s, "abcdefghijklmnopqrstuvwxyz0123456789_-", 1, CTL_OVERLAY_MAX);
}

bool ctl_nodeid_valid(const char *s)
{
    return s && ctl_span(s, "0123456789abcdef", NODEID_HEX_LEN, NODEID_HEX_LEN);
}

bool ctl_ufrag_valid(const char *s)
{
    return s && ctl_span(s, CTL_ALNUM "+/", CTL_UFRAG_MIN, CTL_ICE_MAX);
}

bool ctl_pwd_valid(const char *s)
{
    return s && ctl_span(s, CTL_ALNUM "+/", CTL_PWD_MIN, CTL_ICE_MAX);
}

bool ctl_cand_valid(const char *s)
{
    size_t i;
    if (!s)
        return false;
    for (i = 0; s[i]; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    return i >= 1 && i <= CTL_CAND_MAX;
}
