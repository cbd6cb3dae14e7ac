/**
 * The thin I/O side of tailing, around the pure planner and states of {@code dev.rlog.agent.tail}:
 *
 * <ul>
 *   <li>{@link dev.rlog.agent.tail.fs.TailService}: the {@code rlog-tail} thread, inotify
 *       (WatchService) wake-ups, commits, checkpoints, the shared {@link
 *       dev.rlog.agent.tail.fs.ReadGate} and {@code state/listed};
 *   <li>{@link dev.rlog.agent.tail.fs.SourceTailer}: one source: performs what {@link
 *       dev.rlog.agent.tail.RescanPlanner} decides, gives open slots to instances with unread
 *       bytes, and moves each {@link dev.rlog.agent.tail.fs.TrackedFile} through its {@link
 *       dev.rlog.agent.tail.InstanceState};
 *   <li>{@link dev.rlog.agent.tail.fs.DirectoryScanner}: the listing and the planner's probe
 *       (first lines, remembered per inode, size and mtime);
 *   <li>{@link dev.rlog.agent.tail.fs.InstanceReader}: block reads, splitting, hand-off to the
 *       shipper; {@link dev.rlog.agent.tail.fs.GzipTail} for compressed copies;
 *   <li>{@link dev.rlog.agent.tail.fs.OffsetStore}: {@code state/positions}, written atomically.
 * </ul>
 *
 * <p>Delivery rules implemented here, from DESIGN.md "Delivery guarantee": read and committed
 * positions are kept apart and only acknowledged positions are persisted; a new file instance is
 * persisted before its first line is shipped; the pattern chooses which files are started, never
 * which are finished: a renamed file is read to its end wherever it is in its directory, a
 * copytruncate copy (matched or not, or compressed) continues the old instance instead of being
 * read again; a truncated file restarts at 0 as a new instance; only a file gone from the
 * directory loses lines, and they are counted; the tailer pauses rather than drop lines when the
 * sink is full.
 */
package dev.rlog.agent.tail.fs;
