package dev.rlog.agent.tail.fs;

import dev.rlog.agent.tail.FileIdentity;
import dev.rlog.agent.tail.InstanceState;
import dev.rlog.agent.tail.LineBatch;
import dev.rlog.agent.tail.LineSplitter;
import dev.rlog.agent.tail.RescanPlanner;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * The tailer's state for one file instance: its {@link InstanceState}, where it is, and what is
 * open for it. Owner thread only (its {@link SourceTailer}).
 *
 * <p>Invariant: {@link #state} is open ({@link InstanceState#isOpen()}) exactly when {@link
 * #channel} or {@link #gzip} is set.
 */
final class TrackedFile {
  final String id;
  FileIdentity identity;
  Path path;
  InstanceState state;
  /** State to take after FINISHING: DORMANT, or CONTENT_GONE when its inode was rewritten. */
  InstanceState afterFinish = InstanceState.DORMANT;
  /** Open on a plain file, or null. */
  FileChannel channel;
  /** Open on a gzip copy, or null. */
  GzipTail gzip;
  /** Its last name matches the source's pattern: it stays known while it is there. */
  boolean atMatchedPath;
  /** Given up on: its file is gone; forgotten once what was read of it is acknowledged. */
  boolean lost;
  long sizeSeen;
  long modifiedMillis;
  LineSplitter splitter;
  final LineBatch.Builder builder;
  /** A batch the sink refused, offered again before anything else is read. */
  LineBatch pending;
  /** It holds the tail thread's {@link ReadGate} (its pending batch was refused). */
  boolean holdsGate;
  long partialOffset = -1;
  long partialSinceNanos;
  long lastGrowthNanos;
  long lastSeenNanos;
  long closedAtNanos;
  long missingSinceNanos = -1;

  TrackedFile(String id, String label, FileIdentity identity, Path path, long position,
      int maxLineBytes, long nowNanos) {
    this.id = id;
    this.identity = identity;
    this.path = path;
    this.state = InstanceState.DORMANT;
    this.splitter = new LineSplitter(position, maxLineBytes);
    this.builder = new LineBatch.Builder(label, id, path.toString());
    this.sizeSeen = position;
    this.lastGrowthNanos = nowNanos;
    this.lastSeenNanos = nowNanos;
    this.closedAtNanos = nowNanos;
  }

  boolean isOpen() {
    return state.isOpen();
  }

  /** End of everything emitted so far (shipped, pending or flushed): where a reread resumes. */
  long emittedPosition() {
    return splitter.emittedPosition();
  }

  /** Farthest byte consumed, held partial included: a file smaller than this was truncated. */
  long consumedPosition() {
    return splitter.nextOffset();
  }

  /** Bytes known to be in its file and not read yet. */
  long unreadBytes() {
    return Math.max(0, sizeSeen - consumedPosition());
  }

  /**
   * How the planner sees it. An instance finishing because its inode was rewritten already counts
   * as CONTENT_GONE: its inode is free for the file it now holds, and a copy may continue it.
   */
  RescanPlanner.Instance view() {
    InstanceState s = state == InstanceState.FINISHING && afterFinish == InstanceState.CONTENT_GONE
        ? InstanceState.CONTENT_GONE : state;
    return new RescanPlanner.Instance(id, s, path.toString(), identity, consumedPosition(),
        emittedPosition(), sizeSeen, missingSinceNanos);
  }

  /** Closes what is open; the caller sets the new state. */
  void closeChannel() {
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException e) {
        // Closing a read-only channel cannot lose data; nothing to do.
      }
      channel = null;
    }
    if (gzip != null) {
      gzip.close();
      gzip = null;
    }
  }

  @Override
  public String toString() {
    return id + "@" + path + "(" + state + ")";
  }
}
