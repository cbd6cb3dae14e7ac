package dev.rlog.collector.grpc;

import dev.rlog.collector.flow.Chunk;
import dev.rlog.collector.store.PositionTable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.function.Function;

/**
 * Per agent and file instance, the highest line offset handed to the store; a line at or below
 * it is a re-send and is skipped. The offsets live in the store's {@link PositionTable} (seeded
 * from what the store recovered, so the filter survives a restart); it forgets an instance
 * {@code store.dedup_retention} after it last advanced, or when more than
 * {@code store.dedup_max_instances} are known, and a re-send of a forgotten instance's lines is
 * stored again.
 *
 * <p>A line is marked accepted in the same critical section that enqueues its chunk (see {@link
 * #withAgent}): two calls of one agent cannot both pass the same line, and a chunk refused by a
 * full queue leaves the filter untouched. Enqueued chunks are written in order, and a failed
 * store refuses all later intake until the collector restarts and re-derives the positions from
 * what was really written, so "accepted" never runs ahead of the store in a way that loses a line.
 *
 * <p>Threading: any thread. The critical section is per lock stripe ({@value #STRIPES} stripes,
 * an agent always on the same one), so memory does not grow with the number of agents ever seen;
 * the table has its own lock, taken once per file instance of a batch.
 */
public final class PositionFilter {
  /**
   * Longest file instance id accepted (our agent's are under 100 bytes): the table keeps ids, so
   * its memory bound is {@code store.dedup_max_instances} times this, not times a message size.
   */
  public static final int MAX_FILE_INSTANCE_BYTES = 256;

  /** Lock stripes; a power of two. */
  static final int STRIPES = 64;

  private final PositionTable table;
  private final AgentPositions[] stripes = new AgentPositions[STRIPES];

  public PositionFilter(PositionTable table) {
    this.table = table;
    for (int i = 0; i < STRIPES; i++) {
      stripes[i] = new AgentPositions(table);
    }
  }

  /** Runs {@code action} holding the agent's lock, with its positions. */
  public <T> T withAgent(String agent, Function<AgentPositions, T> action) {
    int h = agent.hashCode();
    AgentPositions p = stripes[(h ^ (h >>> 16)) & (STRIPES - 1)];
    synchronized (p) {
      p.agent = agent;
      try {
        return action.apply(p);
      } finally {
        p.tentative.clear(); // the action committed or rolled back; never leak marks to the next
        p.looked.clear();
        p.agent = null;
      }
    }
  }

  /** The highest accepted offset, or -1. */
  public long highest(String agent, String fileInstance) {
    return withAgent(agent, p -> p.highest(fileInstance));
  }

  /**
   * One agent's positions. Use only inside {@link PositionFilter#withAgent}: tentative marks are
   * made while building a chunk and either {@link #commit}ted with the enqueue or dropped.
   */
  public static final class AgentPositions {
    private final PositionTable table;
    private final HashMap<String, Long> tentative = new HashMap<>();
    /**
     * Offsets read from the table in this critical section: the lines of a batch share a few
     * instances, so the table's lock is taken once per instance, not per line. Only this agent
     * (under this stripe) raises its accepted offsets, so a cached value can only be stale by an
     * eviction that raced with the batch, which forgets the instance anyway.
     */
    private final HashMap<String, Long> looked = new HashMap<>();
    private String agent;

    private AgentPositions(PositionTable table) {
      this.table = table;
    }

    public long highest(String fid) {
      Long t = tentative.get(fid);
      if (t != null) {
        return t;
      }
      Long known = looked.get(fid);
      if (known == null) {
        known = table.accepted(agent, fid);
        looked.put(fid, known);
      }
      return known;
    }

    /** True if the line is new; then marks it tentatively. */
    public boolean admit(String fid, long offset) {
      if (offset <= highest(fid)) {
        return false;
      }
      tentative.put(fid, offset);
      return true;
    }

    /** The tentative marks as chunk positions, for the store's committed-position map. */
    public List<Chunk.Position> tentativePositions(String agent) {
      List<Chunk.Position> out = new ArrayList<>(tentative.size());
      tentative.forEach((fid, off) -> out.add(new Chunk.Position(agent, fid, off)));
      return out;
    }

    public void commit() {
      if (!tentative.isEmpty()) {
        table.accept(agent, tentative);
        tentative.clear();
      }
    }

    public void rollback() {
      tentative.clear();
    }
  }
}
