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

  /**
   * A file a rescan saw; its fingerprint may be undecided (null). {@code matched}: its name
   * matches the source's pattern (only matched files are started; any file may finish an
   * instance). {@code compressed}: a gzip file, whose fingerprint is that of its decompressed
   * bytes and whose size is the compressed size. {@code modifiedMillis}: its mtime, for reading
   * the oldest first.
   */
  public record Observed(String path, FileIdentity identity, long size, boolean matched,
      boolean compressed, long modifiedMillis) {
    public Observed {
      Objects.requireNonNull(path, "path");
      Objects.requireNonNull(identity, "identity");
    }

    /** A plain matched file. */
    public Observed(String path, FileIdentity identity, long size) {
      this(path, identity, size, true, false, 0);
    }

    /** The same file with its fingerprint decided. */
    public Observed withFingerprint(String fingerprint) {
      return new Observed(path, new FileIdentity(identity.fileKey(), fingerprint), size, matched,
          compressed, modifiedMillis);
    }
  }

  /**
   * The verdict. {@code continueOn} is the file the tracked instance goes on with: the file at its
   * path (UNCHANGED, GREW), its new location (MOVED), the copy (COPYTRUNCATED_COPY_SEEN); null
   * when it ends (TRUNCATED) or is finished through its open channel (RENAMED, GONE).
   */
  public record Decision(Kind kind, Observed continueOn) {}

  /**
   * The other files of the directory, as the detector needs them: lookups by inode and by first
   * line instead of a list, so a rescan of n files costs O(n), not O(n²). Implementations leave
   * out the path being decided and the files that belong to other tracked instances.
   */
  public interface Siblings {
    /** A file with this key (same inode) at another path, or null. */
    Observed byKey(String fileKey);

    /** The best copy candidate for {@code t} (see {@link #findCopy}), or null. */
    Observed copyOf(Tracked t);

    /** Without file keys: a file at another path that starts like {@code t}, or null. */
    Observed sameStartElsewhere(Tracked t);
  }

  /** {@link Siblings} over a plain list (linear lookups); for small inputs and tests. */
  public static Siblings siblings(List<Observed> others) {
    return new Siblings() {
      @Override
      public Observed byKey(String fileKey) {
        for (Observed o : others) {
          if (fileKey != null && fileKey.equals(o.identity().fileKey())) {
            return o;
          }
        }
        return null;
      }

      @Override
      public Observed copyOf(Tracked t) {
        return findCopy(t, others);
      }

      @Override
      public Observed sameStartElsewhere(Tracked t) {
        for (Observed o : others) {
          if (!o.path().equals(t.path()) && o.identity().sameStart(t.identity())) {
            return o;
          }
        }
        return null;
      }
    };
  }

  public static Decision decide(Tracked t, Observed atPath, List<Observed> others) {
    List<Observed> rest = others.stream().filter(o -> o != atPath).toList();
    return decide(t, atPath, siblings(rest));
  }

  public static Decision decide(Tracked t, Observed atPath, Siblings others) {
    if (atPath != null && !atPath.path().equals(t.path())) {
      throw new IllegalArgumentException("atPath " + atPath.path() + " is not " + t.path());
    }
    if (atPath != null && holdsSameInode(t, atPath)) {
      boolean replaced = !atPath.identity().sameStart(t.identity());
      boolean shrank = atPath.size() < t.readPosition() || atPath.size() < t.sizeSeen();
      if (replaced || shrank) {
        Observed copy = others.copyOf(t);
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

  private static Observed findMoved(Tracked t, Siblings others) {
    String key = t.identity().fileKey();
    if (key != null) {
      Observed o = others.byKey(key);
      if (o != null && !o.path().equals(t.path()) && o.identity().fileKey() != null
          && o.identity().sameFile(t.identity())) {
        return o;
      }
      return null;
    }
    // Without inodes a file at another path that starts the same is the best guess for a move.
    return others.sameStartElsewhere(t);
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
