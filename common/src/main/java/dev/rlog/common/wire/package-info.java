/**
 * The raw TCP ingest wire: length-prefixed records. Pure codec, no I/O and no Netty, so the
 * collector's server and any client (tests, the benchmark, other programs) share one definition.
 *
 * <pre>
 *  0        1        2        3        4                      4+N
 * +--------+--------+--------+--------+--------------------- ... -+
 * |  N (unsigned 32-bit, big-endian)  |  N payload bytes          |   one record
 * +--------+--------+--------+--------+--------------------- ... -+
 * </pre>
 *
 * <p>Records follow each other with nothing in between. {@code N = 0} is a valid, empty record.
 * The payload is opaque bytes (usually UTF-8 text without a trailing newline).
 */
package dev.rlog.common.wire;
