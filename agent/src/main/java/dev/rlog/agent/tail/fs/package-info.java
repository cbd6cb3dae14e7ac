/**
 * The thin I/O side of tailing: {@link dev.rlog.agent.tail.fs.TailService} (the {@code rlog-tail}
 * thread, WatchService wake-ups, commits, checkpoints), {@link dev.rlog.agent.tail.fs.SourceTailer}
 * (one source: rescans, {@code FileChannel} reads in large blocks, rotation handling) and {@link
 * dev.rlog.agent.tail.fs.OffsetStore} ({@code state/positions}, written atomically).
 *
 * <p>Delivery rules implemented here, from DESIGN.md "Delivery guarantee": read and committed
 * positions are kept apart and only acknowledged positions are persisted; a new file instance is
 * persisted before its first line is shipped; a renamed file is read to its end through its open
 * channel; a truncated file restarts at 0 as a new instance; a matched copytruncate copy
 * continues the old instance instead of being read again; the tailer pauses a file rather than
 * drop lines when the sink is full.
 */
package dev.rlog.agent.tail.fs;
