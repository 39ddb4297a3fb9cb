/** The session protocol version this build speaks (Hello.protocol_version / Welcome.protocol_version). */
export const PROTOCOL_VERSION = 1;
/** The oldest agent protocol the control plane still accepts. */
export const MIN_PROTOCOL_VERSION = 1;
/** Largest frame either side accepts on the link session and any RPC, in bytes. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** The agent's and server's version string. */
export const LINK_VERSION = '0.1.0';
