/**
 * The pure core of tailing: no files, no threads, no clock reads. Everything here is unit-tested
 * with in-memory inputs.
 *
 * <ul>
 *   <li>{@link dev.rlog.agent.tail.FileIdentity}: inode + fingerprint of the first line, and the
 *       wire id of a file instance;
 *   <li>{@link dev.rlog.agent.tail.LineSplitter}: bytes to lines (CRLF, partial last line,
 *       overlong lines cut), chunking-independent;
 *   <li>{@link dev.rlog.agent.tail.RotationDetector}: what a rescan means for a tracked instance
 *       (grew, truncated, renamed, moved, copytruncate copy, gone);
 *   <li>{@link dev.rlog.agent.tail.OffsetRegistry}: read and committed position per instance;
 *   <li>{@link dev.rlog.agent.tail.PositionsFile}: the on-disk text format of committed positions;
 *   <li>{@link dev.rlog.agent.tail.LineSink} / {@link dev.rlog.agent.tail.LineBatch}: the
 *       hand-off to the shipper.
 * </ul>
 *
 * The I/O adapters that drive them live in {@code dev.rlog.agent.tail.fs}.
 */
package dev.rlog.agent.tail;
