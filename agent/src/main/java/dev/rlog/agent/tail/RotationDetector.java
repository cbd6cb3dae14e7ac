package dev.rlog.agent.tail;

import java.util.List;
import java.util.Objects;

/**
 * Decides, from one rescan, what happened to a tracked file instance. Pure function of its
 * inputs; stateless; any thread.
 *
 * <p>Inputs: the tracked instance (path last seen, identity, read position, size last seen), what
 * the rescan found at that path (may be null) and the other files the source's glob matched
 * (callers leave out files that belong to other tracked instances). Identity means
 * {@link FileIdentity}: same inode and same first line; without file keys, same first line at the
 * same path.
 *
 * <p>Precedence, first match wins:
 *
 * <ol>
 *   <li>The path holds the same inode: its content start changed, or its size dropped below the
 *       read position or the size last seen: {@link Kind#COPYTRUNCATED_COPY_SEEN} when another
 *       matched file (another inode) starts like the tracked one — it is the copy, to be continued
 *       from the read position, not read again; else {@link Kind#TRUNCATED} (restart the path's
 *       file from 0 as a new instance). Otherwise {@link Kind#GREW} or {@link Kind#UNCHANGED}.
 *   <li>The same file is at another matched path (renamed to a name the glob matches): {@link
 *       Kind#MOVED}, continue it there.
 *   <li>The path holds another file: {@link Kind#RENAMED} — finish the old instance through its
 *       still-open channel, then the file at the path is a new instance read from 0.
 *   <li>Nothing at the path: {@link Kind#GONE} — finish through the open channel.
 * </ol>
 *
 * <p>A size drop below the size last seen counts as truncation even when it stays above the read
 * position: files only shrink when truncated, and the bytes there are no longer the ones we saw.
 */
public final class RotationDetector {
  private RotationDetector() {}

  public enum Kind {
    UNCHANGED,
    GREW,
    TRUNCATED,
    RENAMED,
    MOVED,
    COPYTRUNCATED_COPY_SEEN,
    GONE
  }

  /** A tracked instance as the tailer knows it. */
  public record Tracked(String path, FileIdentity identity, long readPosition, long sizeSeen) {
    public Tracked {
      Objects.requireNonNull(path, "path");
      Objects.requireNonNull(identity, "identity");
      if (!identity.hasFingerprint()) {
        throw new IllegalArgumentException("a tracked instance always has a fingerprint: " + path);
      }
    }
  }

  /** A file a rescan saw; its fingerprint may be undecided (null). */
  public record Observed(String path, FileIdentity identity, long size) {
    public Observed {
      Objects.requireNonNull(path, "path");
      Objects.requireNonNull(identity, "identity");
    }
  }

  /**
   * The verdict. {@code continueOn} is the file the tracked instance goes on with: the file at its
   * path (UNCHANGED, GREW), its new location (MOVED), the copy (COPYTRUNCATED_COPY_SEEN); null
   * when it ends (TRUNCATED) or is finished through its open channel (RENAMED, GONE).
   */
  public record Decision(Kind kind, Observed continueOn) {}

  public static Decision decide(Tracked t, Observed atPath, List<Observed> others) {
    if (atPath != null && !atPath.path().equals(t.path())) {
      throw new IllegalArgumentException("atPath " + atPath.path() + " is not " + t.path());
    }
    if (atPath != null && holdsSameInode(t, atPath)) {
      boolean replaced = !atPath.identity().sameStart(t.identity());
      boolean shrank = atPath.size() < t.readPosition() || atPath.size() < t.sizeSeen();
      if (replaced || shrank) {
        Observed copy = findCopy(t, others);
        return copy != null
            ? new Decision(Kind.COPYTRUNCATED_COPY_SEEN, copy)
            : new Decision(Kind.TRUNCATED, null);
      }
      return new Decision(atPath.size() > t.sizeSeen() ? Kind.GREW : Kind.UNCHANGED, atPath);
    }
    Observed moved = findMoved(t, others);
    if (moved != null) {
      return new Decision(Kind.MOVED, moved);
    }
    return new Decision(atPath != null ? Kind.RENAMED : Kind.GONE, null);
  }

  /**
   * A matched file on another inode (or, without keys, at another path) that starts like the
   * tracked instance; the largest if several. Used when the tracked file was truncated, and for
   * instances that ended before their copy showed up.
   */
  public static Observed findCopy(Tracked t, List<Observed> others) {
    Observed best = null;
    for (Observed o : others) {
      if (isCopyCandidate(t, o) && (best == null || o.size() > best.size())) {
        best = o;
      }
    }
    return best;
  }

  /** Starts like {@code t} but is another file: a copy, or an unrelated file with the same first line. */
  public static boolean isCopyCandidate(Tracked t, Observed o) {
    if (!o.identity().sameStart(t.identity())) {
      return false;
    }
    return hasKeys(t, o) ? !o.identity().sameKey(t.identity()) : !o.path().equals(t.path());
  }

  private static Observed findMoved(Tracked t, List<Observed> others) {
    for (Observed o : others) {
      if (o.path().equals(t.path())) {
        continue;
      }
      if (hasKeys(t, o) && o.identity().sameFile(t.identity())) {
        return o;
      }
    }
    if (t.identity().fileKey() == null) {
      // Without inodes a file at another path that starts the same is the best guess for a move.
      for (Observed o : others) {
        if (!o.path().equals(t.path()) && o.identity().sameStart(t.identity())) {
          return o;
        }
      }
    }
    return null;
  }

  private static boolean holdsSameInode(Tracked t, Observed atPath) {
    if (hasKeys(t, atPath)) {
      return atPath.identity().sameKey(t.identity());
    }
    return atPath.identity().sameStart(t.identity());
  }

  private static boolean hasKeys(Tracked t, Observed o) {
    return t.identity().fileKey() != null && o.identity().fileKey() != null;
  }
}
