/* TAP devices: one per link, created by evio-tincan and gone with its fd
 * (never persistent, so a crashed process leaves nothing behind). */
#ifndef TINCAN_TAP_H
#define TINCAN_TAP_H

#include <net/if.h>
#include <stdint.h>
#include <sys/types.h>

struct tap {
    int fd;                    /* O_NONBLOCK, IFF_TAP | IFF_NO_PI */
    char name[IFNAMSIZ];
    uint8_t mac[6];
};

/* Is NAME usable as an interface name (1..15 chars, no '/', no spaces)? */
int tap_name_valid(const char *name);

/* Creates TAP NAME with a random locally administered unicast MAC, sets MTU
 * and brings it up. Returns 0 or a positive errno with *ERR (malloc'd). */
int tap_open(struct tap *, const char *name, int mtu, char **err);
/* Closes the fd, which deletes the device. Accepts a closed tap (fd < 0). */
void tap_close(struct tap *);

/* Formats the MAC as "02:xx:xx:xx:xx:xx". */
void tap_mac_format(const uint8_t mac[6], char out[18]);

#endif
