/* The one version of evio, shared by every program it ships. */
#ifndef EVIO_VERSION_H
#define EVIO_VERSION_H

#define EVIO_VERSION "0.1.0"

#endif
