package dev.rlog.collector.store;

import dev.rlog.collector.flow.Chunk;
import dev.rlog.common.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The duplicate filter's memory (DESIGN.md "The store"): per agent and file instance, the highest
 * offset accepted for the store, the highest offset committed in it, and when the instance last
 * advanced (its accepted offset rose). One table serves both the gRPC filter (accepted) and the
 * store's checkpoint (committed), so each instance costs one entry.
 *
 * <p><b>Bounds.</b> An entry whose last advance is {@code retention} old is forgotten; past
 * {@code maxInstances} entries the least recently advanced one is forgotten. Both are counted
 * ({@link #expired()}, {@link #evictedForCapacity()}); capacity evictions are also logged, at most
 * once per {@link #CAPACITY_LOG_INTERVAL}. A forgotten instance has no position: a re-send of its
 * lines is stored again (at-least-once for it, never a lost line).
 *
 * <p><b>Cost.</b> Entries form one list ordered by last advance (an advance moves its entry to
 * the newest end), so expiry and eviction take entries from the oldest end: O(forgotten), never a
 * scan. Advance times are kept non-decreasing along the list ({@code max(now, newest)}), so a wall
 * clock stepping back delays expiry a little rather than breaking the order. Lookups allocate
 * nothing: agent, then file instance, each a {@link HashMap} keyed by the caller's strings; the
 * table keeps one agent string per agent.
 *
 * <p><b>Threading.</b> Thread-safe; one lock, held for a lookup or for one batch of updates,
 * never for I/O.
 */
public final class PositionTable {
  private static final Logger log = LoggerFactory.getLogger(PositionTable.class);

  /** Capacity evictions are logged at most this often (all are counted). */
  public static final Duration CAPACITY_LOG_INTERVAL = Duration.ofMinutes(1);

  /** Why an entry was forgotten. */
  public enum Eviction {
    /** Its last advance was {@code retention} ago or more. */
    EXPIRED,
    /** The table was full and it was the least recently advanced. */
    CAPACITY
  }

  /** One live entry, for the checkpoint: its committed offset and last advance (epoch ms). */
  public record Committed(String agent, String fileInstance, long offset, long advancedAtMillis) {}

  private static final class AgentFiles {
    final String agent;
    final HashMap<String, Entry> files = new HashMap<>(4);

    AgentFiles(String agent) {
      this.agent = agent;
    }
  }

  private static final class Entry {
    final AgentFiles owner;
    final String fileInstance;
    long accepted = -1;
    long committed = -1;
    long advancedAt;
    Entry older;
    Entry newer;

    Entry(AgentFiles owner, String fileInstance) {
      this.owner = owner;
      this.fileInstance = fileInstance;
    }
  }

  private final Clock clock;
  private final long retentionMillis;
  private final int maxInstances;
  private final HashMap<String, AgentFiles> agents = new HashMap<>();
  private Entry oldest;
  private Entry newest;
  private int size;

  // Written under the lock, read by metrics without it.
  private volatile long expired;
  private volatile long evictedForCapacity;
  private long capacityUnlogged;
  private long lastCapacityLogNanos;
  private boolean capacityLogged;

  public PositionTable(Clock clock, Duration retention, int maxInstances) {
    this.clock = Objects.requireNonNull(clock, "clock");
    if (retention.isNegative() || retention.isZero()) {
      throw new IllegalArgumentException("retention must be > 0, got " + retention);
    }
    if (maxInstances < 1) {
      throw new IllegalArgumentException("maxInstances must be >= 1, got " + maxInstances);
    }
    this.retentionMillis = retention.toMillis();
    this.maxInstances = maxInstances;
  }

  /** The highest offset accepted (handed to the store) for the instance, or -1 if none is known. */
  public synchronized long accepted(String agent, String fileInstance) {
    expire(clock.currentTimeMillis());
    Entry e = find(agent, fileInstance);
    return e == null ? -1 : e.accepted;
  }

  /** The highest offset committed in the store for the instance, or -1 if none is known. */
  public synchronized long committed(String agent, String fileInstance) {
    expire(clock.currentTimeMillis());
    Entry e = find(agent, fileInstance);
    return e == null ? -1 : e.committed;
  }

  /** Raises the accepted offsets of one agent's instances (the filter let these lines through). */
  public synchronized void accept(String agent, Map<String, Long> offsets) {
    long now = clock.currentTimeMillis();
    offsets.forEach((fid, off) -> raise(agent, fid, off, false, now));
    enforce(now);
  }

  /** Raises the committed (and accepted) offsets: these chunk positions are now in the store. */
  public synchronized void commit(List<Chunk.Position> positions) {
    if (positions.isEmpty()) {
      return;
    }
    long now = clock.currentTimeMillis();
    for (int i = 0, n = positions.size(); i < n; i++) {
      Chunk.Position p = positions.get(i);
      raise(p.agent(), p.fileInstance(), p.offset(), true, now);
    }
    enforce(now);
  }

  /**
   * Recovery: the instance had {@code offset} committed, last advanced at {@code advancedAtMillis}
   * (epoch ms; a negative value means unknown, taken as now, so it lives a full retention).
   * Call in the order the positions were made (oldest first) so the list order holds.
   */
  synchronized void restore(String agent, String fileInstance, long offset, long advancedAtMillis) {
    long now = clock.currentTimeMillis();
    raise(agent, fileInstance, offset, true, advancedAtMillis < 0 ? now : advancedAtMillis);
    enforce(now);
  }

  /** Forgets what expired by now; lookups and updates do this by themselves. */
  public synchronized void expireNow() {
    expire(clock.currentTimeMillis());
  }

  /** Live entries with a committed offset, least recently advanced first. */
  public synchronized List<Committed> committedSnapshot() {
    expire(clock.currentTimeMillis());
    List<Committed> out = new ArrayList<>(size);
    for (Entry e = oldest; e != null; e = e.newer) {
      if (e.committed >= 0) {
        out.add(new Committed(e.owner.agent, e.fileInstance, e.committed, e.advancedAt));
      }
    }
    return out;
  }

  /** Committed offsets as agent, then file instance, then offset; an immutable copy. */
  public synchronized Map<String, Map<String, Long>> committedPositions() {
    expire(clock.currentTimeMillis());
    Map<String, Map<String, Long>> out = new HashMap<>();
    for (Entry e = oldest; e != null; e = e.newer) {
      if (e.committed >= 0) {
        out.computeIfAbsent(e.owner.agent, a -> new HashMap<>()).put(e.fileInstance, e.committed);
      }
    }
    Map<String, Map<String, Long>> copy = new HashMap<>();
    out.forEach((agent, files) -> copy.put(agent, Map.copyOf(files)));
    return Map.copyOf(copy);
  }

  /** Live entries (file instances remembered). */
  public synchronized int size() {
    return size;
  }

  public int maxInstances() {
    return maxInstances;
  }

  public Duration retention() {
    return Duration.ofMillis(retentionMillis);
  }

  /** Entries forgotten because their last advance was older than the retention. */
  public long expired() {
    return expired;
  }

  /** Entries forgotten because the table was full (least recently advanced first). */
  public long evictedForCapacity() {
    return evictedForCapacity;
  }

  public long evictions(Eviction reason) {
    return reason == Eviction.EXPIRED ? expired : evictedForCapacity;
  }

  private Entry find(String agent, String fileInstance) {
    AgentFiles a = agents.get(agent);
    return a == null ? null : a.files.get(fileInstance);
  }

  private void raise(String agent, String fid, long offset, boolean commit, long at) {
    AgentFiles a = agents.get(agent);
    if (a == null) {
      a = new AgentFiles(agent);
      agents.put(agent, a);
    }
    Entry e = a.files.get(fid);
    boolean advanced;
    if (e == null) {
      e = new Entry(a, fid);
      a.files.put(fid, e);
      size++;
      advanced = true;
    } else {
      advanced = offset > e.accepted;
      if (advanced) {
        unlink(e);
      }
    }
    if (offset > e.accepted) {
      e.accepted = offset;
    }
    if (commit && offset > e.committed) {
      e.committed = offset;
    }
    if (advanced) {
      e.advancedAt = newest == null ? at : Math.max(at, newest.advancedAt);
      linkNewest(e);
    }
  }

  private void enforce(long now) {
    expire(now);
    long evicted = 0;
    while (size > maxInstances) {
      remove(oldest);
      evicted++;
    }
    if (evicted > 0) {
      evictedForCapacity += evicted;
      capacityUnlogged += evicted;
      long nanos = clock.nanoTime();
      if (!capacityLogged || nanos - lastCapacityLogNanos >= CAPACITY_LOG_INTERVAL.toNanos()) {
        log.warn("duplicate filter full ({} file instances, store.dedup_max_instances): forgot "
                + "the {} least recently advanced; a re-send of their lines will be stored again",
            maxInstances, capacityUnlogged);
        capacityLogged = true;
        lastCapacityLogNanos = nanos;
        capacityUnlogged = 0;
      }
    }
  }

  private void expire(long now) {
    long cutoff = now - retentionMillis;
    long n = 0;
    while (oldest != null && oldest.advancedAt <= cutoff) {
      remove(oldest);
      n++;
    }
    if (n > 0) {
      expired += n;
    }
  }

  private void remove(Entry e) {
    unlink(e);
    AgentFiles a = e.owner;
    a.files.remove(e.fileInstance);
    if (a.files.isEmpty()) {
      agents.remove(a.agent);
    }
    size--;
  }

  private void unlink(Entry e) {
    if (e.older == null) {
      oldest = e.newer;
    } else {
      e.older.newer = e.newer;
    }
    if (e.newer == null) {
      newest = e.older;
    } else {
      e.newer.older = e.older;
    }
    e.older = null;
    e.newer = null;
  }

  private void linkNewest(Entry e) {
    e.older = newest;
    e.newer = null;
    if (newest == null) {
      oldest = e;
    } else {
      newest.newer = e;
    }
    newest = e;
  }
}
