/* version - the one version number of ketenhubd, ketenctl and the admin socket. */
#ifndef VERSION_H
#define VERSION_H

#define KETENHUB_VERSION "0.1.0"

#endif
