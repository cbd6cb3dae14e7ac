package dev.rlog.collector.grpc;

import dev.rlog.collector.flow.Chunk;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Per agent and file instance, the highest line offset handed to the store; a line at or below
 * it is a re-send and is skipped. Seeded at start from the positions the store recovered, so the
 * filter survives a restart.
 *
 * <p>A line is marked accepted in the same critical section that enqueues its chunk (see {@link
 * #withAgent}): two calls of one agent cannot both pass the same line, and a chunk refused by a
 * full queue leaves the filter untouched. Enqueued chunks are written in order, and a failed
 * store refuses all later intake until the collector restarts and re-derives the positions from
 * what was really written, so "accepted" never runs ahead of the store in a way that loses a line.
 *
 * <p>Threading: any thread; one lock per agent.
 */
public final class PositionFilter {
  private final ConcurrentHashMap<String, AgentPositions> agents = new ConcurrentHashMap<>();

  public PositionFilter(Map<String, Map<String, Long>> recovered) {
    recovered.forEach((agent, fids) -> agents.computeIfAbsent(agent, a -> new AgentPositions())
        .highest.putAll(fids));
  }

  /** Runs {@code action} holding the agent's lock, with its positions. */
  public <T> T withAgent(String agent, Function<AgentPositions, T> action) {
    AgentPositions p = agents.computeIfAbsent(agent, a -> new AgentPositions());
    synchronized (p) {
      return action.apply(p);
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
    private final HashMap<String, Long> highest = new HashMap<>();
    private final HashMap<String, Long> tentative = new HashMap<>();

    public long highest(String fid) {
      Long t = tentative.get(fid);
      if (t != null) {
        return t;
      }
      Long h = highest.get(fid);
      return h == null ? -1 : h;
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
      highest.putAll(tentative);
      tentative.clear();
    }

    public void rollback() {
      tentative.clear();
    }
  }
}
