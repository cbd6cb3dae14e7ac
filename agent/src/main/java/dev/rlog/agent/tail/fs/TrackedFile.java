package dev.rlog.agent.tail.fs;

import dev.rlog.agent.tail.FileIdentity;
import dev.rlog.agent.tail.LineBatch;
import dev.rlog.agent.tail.LineSplitter;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * The tailer's state for one file instance. Owner thread only (its {@link SourceTailer}).
 *
 * <p>Life: open at a matched path → (renamed away or deleted) open but draining → closed. A closed
 * instance is reopened when its file shows up again at a matched path (restart, move back) or
 * when a copy of it appears after its own inode was truncated ({@link #contentGone}).
 */
final class TrackedFile {
  final String id;
  FileIdentity identity;
  Path path;
  /** Null when closed. */
  FileChannel channel;
  /** Seen at a matched path in the last rescan. */
  boolean atPath;
  /** Its inode now holds other bytes (truncated or rewritten): never reopen it through its key. */
  boolean contentGone;
  /** Finish: deliver what is held, flush the partial line, close. */
  boolean ending;
  long sizeSeen;
  LineSplitter splitter;
  final LineBatch.Builder builder;
  /** A batch the sink refused, offered again before anything else is read. */
  LineBatch pending;
  long partialOffset = -1;
  long partialSinceNanos;
  long lastGrowthNanos;
  long lastSeenNanos;

  TrackedFile(String id, String label, FileIdentity identity, Path path, long position,
      int maxLineBytes, long nowNanos) {
    this.id = id;
    this.identity = identity;
    this.path = path;
    this.splitter = new LineSplitter(position, maxLineBytes);
    this.builder = new LineBatch.Builder(label, id, path.toString());
    this.sizeSeen = position;
    this.lastGrowthNanos = nowNanos;
    this.lastSeenNanos = nowNanos;
  }

  boolean isOpen() {
    return channel != null;
  }

  /** End of everything emitted so far (shipped, pending or flushed): where a reread resumes. */
  long emittedPosition() {
    return splitter.emittedPosition();
  }

  /** Farthest byte consumed, held partial included: a file smaller than this was truncated. */
  long consumedPosition() {
    return splitter.nextOffset();
  }

  void closeChannel() {
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException e) {
        // Closing a read-only channel cannot lose data; nothing to do.
      }
      channel = null;
    }
  }

  @Override
  public String toString() {
    return id + "@" + path;
  }
}
