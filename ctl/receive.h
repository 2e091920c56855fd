/*
 * receive (ketenctl) - `ketenctl receive`: a partner's side of delivery, as a
 * command. Prints each delivery as one JSON line, confirms it with a receipt
 * once printed, keeps the session alive with heartbeats and, with --accept,
 * answers each referral with doorverwijzing-ontvangen and -geaccepteerd.
 * For partner developers (like mosquitto_sub) and the `make run` demo.
 */
#ifndef CTL_RECEIVE_H
#define CTL_RECEIVE_H

/* Runs the command; argv[0] is "receive". Returns the exit code. */
int receive_main(int argc, char **argv);

#endif
