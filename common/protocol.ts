/** The session protocol version this build speaks (Hello.protocol_version / Welcome.protocol_version). */
export const PROTOCOL_VERSION = 1;
/** The oldest agent protocol the control plane still accepts. */
export const MIN_PROTOCOL_VERSION = 1;
/** Largest frame either side accepts on the link session and any RPC, in bytes. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/**
 * The most events one RunEvents frame carries. The control plane stores a batch with one insert
 * (4 parameters an event, under Postgres's 65,535) and refuses larger ones, so linkd caps by count
 * as well as by bytes: a backlog of many tiny events still goes out in frames the server takes.
 */
export const MAX_EVENTS_PER_BATCH = 2_000;
/** The agent's and server's version string. */
export const LINK_VERSION = '0.1.0';
