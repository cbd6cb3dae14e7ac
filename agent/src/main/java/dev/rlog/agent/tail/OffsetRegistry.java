package dev.rlog.agent.tail;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * Per file instance: the read position (everything before it was handed to the shipper) and the
 * committed position (everything before it was acknowledged by the collector), plus what the
 * positions file needs (label, identity, path last seen).
 *
 * <p>Invariant: {@code committed <= read}; both only move forward. A commit beyond the read
 * position is a caller bug and is refused.
 *
 * <p>Threading: not thread-safe, on purpose. One owner thread (the tail thread) calls everything;
 * other threads hand their commits to the owner (see {@code TailService.commit}) and read only the
 * immutable {@link #committedSnapshot()}.
 *
 * <p>Durability bookkeeping: every change bumps {@link #version()}. After the owner persisted a
 * snapshot taken at version v it calls {@link #markPersisted}(v). {@link #isDurable} tells whether
 * an instance's registration is on disk: the tailer ships no line of an instance before it is,
 * so after a crash the instance comes back under the same id and the collector can recognise
 * lines it already has.
 *
 * <p>Bound: one entry per file instance; instances that are gone and fully committed are removed
 * with {@link #forgetIfCommitted}.
 */
public final class OffsetRegistry {
  private static final class Entry {
    final String label;
    FileIdentity identity;
    String path;
    long read;
    long committed;
    long registeredAt;

    Entry(String label, FileIdentity identity, String path, long position, long registeredAt) {
      this.label = label;
      this.identity = identity;
      this.path = path;
      this.read = position;
      this.committed = position;
      this.registeredAt = registeredAt;
    }
  }

  private final Map<String, Entry> entries = new LinkedHashMap<>();
  private long version;
  private long persistedVersion;

  /** A registry holding what a positions file says; everything in it counts as durable. */
  public static OffsetRegistry restore(PositionsFile file) {
    OffsetRegistry r = new OffsetRegistry();
    for (PositionsFile.Entry e : file.entries()) {
      r.entries.put(e.instance(), new Entry(e.label(), e.identity(), e.path(), e.committed(), 0));
    }
    return r;
  }

  /** Starts tracking a new instance at {@code position} (read = committed = position). */
  public void register(String id, String label, FileIdentity identity, String path, long position) {
    if (entries.containsKey(id)) {
      throw new IllegalStateException("instance already registered: " + id);
    }
    if (position < 0) {
      throw new IllegalArgumentException("position must be >= 0: " + position);
    }
    if (!identity.hasFingerprint()) {
      throw new IllegalArgumentException("identity without fingerprint: " + id);
    }
    version++;
    entries.put(id, new Entry(label, identity, path, position, version));
  }

  public boolean contains(String id) {
    return entries.containsKey(id);
  }

  /** The instance now lives in another file or at another path (move, copytruncate copy). */
  public void relocate(String id, FileIdentity identity, String path) {
    Entry e = get(id);
    if (!identity.hasFingerprint()) {
      throw new IllegalArgumentException("identity without fingerprint: " + id);
    }
    if (!identity.equals(e.identity) || !path.equals(e.path)) {
      e.identity = identity;
      e.path = path;
      version++;
    }
  }

  /** Lines up to {@code to} were handed to the shipper. */
  public void advanceRead(String id, long to) {
    Entry e = get(id);
    if (to < e.read) {
      throw new IllegalArgumentException(
          "read position of " + id + " cannot move back from " + e.read + " to " + to);
    }
    e.read = to;
  }

  /**
   * Lines before {@code to} were acknowledged. Moves only forward.
   *
   * @return true if the committed position moved; false if {@code to} is not ahead of it or the
   *     instance is unknown (already forgotten)
   * @throws IllegalArgumentException if {@code to} is beyond the read position
   */
  public boolean commit(String id, long to) {
    Entry e = entries.get(id);
    if (e == null || to <= e.committed) {
      return false;
    }
    if (to > e.read) {
      throw new IllegalArgumentException("commit of " + id + " at " + to
          + " is beyond what was read (" + e.read + ")");
    }
    e.committed = to;
    version++;
    return true;
  }

  public long readPosition(String id) {
    return get(id).read;
  }

  public long committedPosition(String id) {
    return get(id).committed;
  }

  public FileIdentity identity(String id) {
    return get(id).identity;
  }

  public String path(String id) {
    return get(id).path;
  }

  public String label(String id) {
    return get(id).label;
  }

  /** Removes an instance whose every read line is acknowledged. */
  public boolean forgetIfCommitted(String id) {
    Entry e = entries.get(id);
    if (e == null || e.committed != e.read) {
      return false;
    }
    entries.remove(id);
    version++;
    return true;
  }

  /** Ids of the instances of one source, in registration order. */
  public List<String> idsOf(String label) {
    List<String> ids = new ArrayList<>();
    entries.forEach((id, e) -> {
      if (e.label.equals(label)) {
        ids.add(id);
      }
    });
    return ids;
  }

  public int size() {
    return entries.size();
  }

  /** Bytes read but not yet acknowledged, over all instances. */
  public long unacknowledgedBytes() {
    long sum = 0;
    for (Entry e : entries.values()) {
      sum += e.read - e.committed;
    }
    return sum;
  }

  /** An immutable copy of the committed positions, safe to hand to any thread. */
  public PositionsFile committedSnapshot() {
    List<PositionsFile.Entry> out = new ArrayList<>(entries.size());
    entries.forEach((id, e) ->
        out.add(new PositionsFile.Entry(e.label, id, e.identity, e.path, e.committed)));
    return new PositionsFile(out);
  }

  /** Increases with every change that the positions file would show. */
  public long version() {
    return version;
  }

  /** A snapshot taken at {@code persistedVersion} is on disk. */
  public void markPersisted(long persistedVersion) {
    if (persistedVersion > version) {
      throw new IllegalArgumentException("version " + persistedVersion + " is in the future");
    }
    this.persistedVersion = Math.max(this.persistedVersion, persistedVersion);
  }

  public boolean hasUnpersistedChanges() {
    return version > persistedVersion;
  }

  /** True once the snapshot that first contained this instance is on disk. */
  public boolean isDurable(String id) {
    return get(id).registeredAt <= persistedVersion;
  }

  private Entry get(String id) {
    Entry e = entries.get(id);
    if (e == null) {
      throw new NoSuchElementException("unknown file instance " + id);
    }
    return e;
  }
}
