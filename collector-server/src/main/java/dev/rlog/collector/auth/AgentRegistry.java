package dev.rlog.collector.auth;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import dev.rlog.common.config.AtomicFiles;
import dev.rlog.common.time.Clock;
import dev.rlog.proto.auth.RegisterRequest;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The registered agents and their refresh tokens, persisted in {@code <stateDir>/agents.json}
 * (mode 0600; refresh tokens are stored only as SHA-256 hashes).
 *
 * <p>Refresh tokens rotate: every refresh returns a new one and retires the presented one. A
 * retired token presented again means it was copied (or the agent lost the response): the agent's
 * tokens are revoked (current refresh token cleared, token generation bumped, which kills every
 * access token issued before, see {@link #isTokenCurrent}) and the agent must register again with
 * its project key. The {@value #PREVIOUS_REFRESH_HASHES} most recent retired hashes are kept per
 * agent. Refresh from one agent must therefore be single-flight.
 *
 * <p>Durability: register, refresh, rotation and revocation are written to disk before the call
 * returns (concurrent writes coalesce). Heartbeats only mark the table dirty; the owner calls
 * {@link #flushIfDirty()} every {@link #HEARTBEAT_FLUSH_INTERVAL} or so, and {@link #close()}
 * flushes. If a write fails the change stays in memory, the call throws, and the next write
 * retries. Each write rewrites the whole file (about 1.5 KB per agent).
 *
 * <p>Threading: thread-safe. One monitor guards the table (held for map updates and token
 * signing only, never for I/O); a second one serializes file writes. Readers get immutable
 * {@link AgentInfo} copies. Bounds: at most {@value #MAX_AGENTS} agents; registering one more
 * throws {@link TableFullException}.
 */
public final class AgentRegistry implements Closeable {
  public static final String FILE_NAME = "agents.json";
  public static final int PREVIOUS_REFRESH_HASHES = 16;
  public static final int MAX_AGENTS = 10_000;
  public static final String REFRESH_PREFIX = "rlr_";
  /** Longer presented refresh tokens are refused without hashing. */
  public static final int MAX_REFRESH_TOKEN_CHARS = 256;
  public static final Duration HEARTBEAT_FLUSH_INTERVAL = Duration.ofSeconds(5);

  private static final Logger log = LoggerFactory.getLogger(AgentRegistry.class);
  private static final int REFRESH_TOKEN_BYTES = 32;
  private static final int FILE_VERSION = 1;
  private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");

  /** Thrown by {@link #register} when {@value #MAX_AGENTS} agents are registered. */
  public static final class TableFullException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    TableFullException() {
      super("agent table is full (" + MAX_AGENTS + " agents)");
    }
  }

  private record AgentsFile(
      @JsonProperty("version") int version, @JsonProperty("agents") List<StoredAgent> agents) {}

  private final Path file;
  private final Clock clock;
  private final TokenIssuer issuer;

  // Guarded by this.
  private final Map<String, StoredAgent> agents = new TreeMap<>();
  private final Map<String, String> uuidByCurrentHash = new HashMap<>();
  private final Map<String, String> uuidByPreviousHash = new HashMap<>();
  private long version;

  private final Object writeLock = new Object();
  // Guarded by writeLock.
  private long writtenVersion;

  private AgentRegistry(Path stateDir, Clock clock, TokenIssuer issuer) {
    this.file = stateDir.resolve(FILE_NAME);
    this.clock = clock;
    this.issuer = issuer;
  }

  /** Loads the agents of {@code stateDir}; no file means no agents yet. */
  public static AgentRegistry open(Path stateDir, Clock clock, TokenIssuer issuer)
      throws IOException {
    if (stateDir == null || clock == null || issuer == null) {
      throw new IllegalArgumentException("stateDir, clock and issuer are required");
    }
    AgentRegistry registry = new AgentRegistry(stateDir, clock, issuer);
    synchronized (registry) {
      for (StoredAgent a : readFile(registry.file)) {
        registry.agents.put(a.uuid(), a);
        registry.index(a);
      }
    }
    return registry;
  }

  /**
   * The agents table as stored in {@code <stateDir>/agents.json}, for another process (the
   * {@code collector agents} CLI). It shows the state as of the collector's last write.
   */
  public static List<AgentInfo> readTable(Path stateDir) throws IOException {
    return sorted(readFile(stateDir.resolve(FILE_NAME)).stream().map(StoredAgent::toInfo).toList());
  }

  /**
   * Registers an agent of {@code project}. The uuid in the request is kept if it names an agent
   * of the same project (its earlier tokens are revoked: a new generation starts); otherwise a
   * new random uuid is assigned. The request fields must already be validated.
   */
  public IssuedTokens register(Project project, RegisterRequest request) throws IOException {
    String refresh = newRefreshToken();
    String hash = SecretHashes.sha256Hex(refresh);
    StoredAgent stored;
    String access;
    long target;
    synchronized (this) {
      StoredAgent existing =
          request.hasAgentUuid() ? agents.get(canonicalUuid(request.getAgentUuid())) : null;
      if (existing != null && existing.projectId().equals(project.id())) {
        stored = existing.reRegistered(request.getHostname(), request.getOs(),
            request.getOsVersion(), hash, PREVIOUS_REFRESH_HASHES);
        replace(existing, stored);
      } else {
        if (agents.size() >= MAX_AGENTS) {
          throw new TableFullException();
        }
        stored = new StoredAgent(newUuid(), project.id(), request.getHostname(), request.getOs(),
            request.getOsVersion(), clock.currentTimeMillis(), hash, List.of(), 0, false, 0, 0, 0);
        replace(null, stored);
      }
      access = issuer.issue(stored.uuid(), stored.projectId(), stored.tokenGeneration());
      target = version;
    }
    writeUpTo(target);
    log.info("registered agent {} of project {} on host {}", stored.uuid(), stored.projectId(),
        stored.hostname());
    return new IssuedTokens(stored.uuid(), access, refresh);
  }

  /**
   * Gives the agent a new refresh token (returned once) and retires its current one.
   *
   * @throws IllegalArgumentException if no such agent is registered
   * @throws IllegalStateException if the agent is revoked (it must register again)
   */
  public String rotateRefresh(String uuid) throws IOException {
    String refresh = newRefreshToken();
    long target;
    synchronized (this) {
      StoredAgent current = agents.get(uuid);
      if (current == null) {
        throw new IllegalArgumentException("unknown agent " + uuid);
      }
      if (current.revoked()) {
        throw new IllegalStateException("agent " + uuid + " is revoked; it must register again");
      }
      replace(current, current.withRefresh(SecretHashes.sha256Hex(refresh), PREVIOUS_REFRESH_HASHES));
      target = version;
    }
    writeUpTo(target);
    return refresh;
  }

  /**
   * Exchanges the agent's current refresh token for a new access and refresh token. A retired
   * token revokes the agent's tokens and is refused with {@link RefreshRejectedException.Reason#REUSED}.
   */
  public IssuedTokens refresh(String plainRefresh) throws RefreshRejectedException, IOException {
    if (plainRefresh == null || plainRefresh.isEmpty()
        || plainRefresh.length() > MAX_REFRESH_TOKEN_CHARS) {
      throw new RefreshRejectedException(RefreshRejectedException.Reason.UNKNOWN);
    }
    String presented = SecretHashes.sha256Hex(plainRefresh);
    String refresh = newRefreshToken();
    StoredAgent rotated;
    String access;
    long target;
    synchronized (this) {
      StoredAgent owner = agentFor(uuidByCurrentHash.get(presented));
      if (owner == null || !SecretHashes.constantTimeEquals(presented, owner.refreshHash())) {
        StoredAgent victim = agentFor(uuidByPreviousHash.get(presented));
        if (victim == null) {
          throw new RefreshRejectedException(RefreshRejectedException.Reason.UNKNOWN);
        }
        replace(victim, victim.revoke(PREVIOUS_REFRESH_HASHES));
        target = version;
        log.warn("replaced refresh token of agent {} (project {}) was presented again; "
            + "its tokens are revoked", victim.uuid(), victim.projectId());
        rotated = null;
        access = null;
      } else {
        rotated = owner.withRefresh(SecretHashes.sha256Hex(refresh), PREVIOUS_REFRESH_HASHES);
        replace(owner, rotated);
        access = issuer.issue(rotated.uuid(), rotated.projectId(), rotated.tokenGeneration());
        target = version;
      }
    }
    if (rotated == null) {
      try {
        writeUpTo(target);
      } catch (IOException e) {
        log.error("could not save the revocation to {}: {}", file, e.toString());
      }
      throw new RefreshRejectedException(RefreshRejectedException.Reason.REUSED);
    }
    writeUpTo(target);
    return new IssuedTokens(rotated.uuid(), access, refresh);
  }

  /**
   * Records a heartbeat (kept in memory until the next {@link #flushIfDirty()}). Pass the
   * collector's receive time, not the agent's clock.
   *
   * @return false if no such agent is registered
   * @throws IllegalArgumentException if cpu or memory is not a percentage
   */
  public boolean heartbeat(String uuid, long epochMillis, double cpu, double memory) {
    requirePercent("cpu", cpu);
    requirePercent("memory", memory);
    synchronized (this) {
      StoredAgent current = agents.get(uuid);
      if (current == null) {
        return false;
      }
      replace(current, current.withHeartbeat(epochMillis, cpu, memory));
      return true;
    }
  }

  /**
   * True while an access token of {@code generation} for this agent and project is still
   * honoured: the agent exists, belongs to the project and has not moved to a newer generation.
   */
  public synchronized boolean isTokenCurrent(String uuid, String projectId, long generation) {
    StoredAgent a = agents.get(uuid);
    return a != null && !a.revoked() && a.projectId().equals(projectId)
        && a.tokenGeneration() == generation;
  }

  public synchronized Optional<AgentInfo> find(String uuid) {
    StoredAgent a = agents.get(uuid);
    return a == null ? Optional.empty() : Optional.of(a.toInfo());
  }

  /** Every agent, sorted by project, hostname and uuid (immutable). */
  public List<AgentInfo> snapshot() {
    List<AgentInfo> rows;
    synchronized (this) {
      rows = agents.values().stream().map(StoredAgent::toInfo).toList();
    }
    return sorted(rows);
  }

  /** Online = a heartbeat arrived within {@code offlineAfter} before {@code nowMillis}. */
  public static boolean isOnline(AgentInfo agent, long nowMillis, Duration offlineAfter) {
    return agent.lastHeartbeatMillis() > 0
        && nowMillis - agent.lastHeartbeatMillis() <= offlineAfter.toMillis();
  }

  /**
   * Writes the table if anything (typically heartbeats) changed since the last write.
   *
   * @return true if the file was written
   */
  public boolean flushIfDirty() throws IOException {
    long target;
    synchronized (this) {
      target = version;
    }
    return writeUpTo(target);
  }

  /** Flushes pending heartbeats. Idempotent. */
  @Override
  public void close() throws IOException {
    flushIfDirty();
  }

  // ---- internals -------------------------------------------------------------------------

  /** Swaps {@code old} (may be null) for {@code next} in the table and the hash indexes. */
  private void replace(StoredAgent old, StoredAgent next) {
    if (old != null) {
      unindex(old);
    }
    agents.put(next.uuid(), next);
    index(next);
    version++;
  }

  private void index(StoredAgent a) {
    if (a.refreshHash() != null) {
      uuidByCurrentHash.put(a.refreshHash(), a.uuid());
    }
    for (String h : a.previousRefreshHashes()) {
      uuidByPreviousHash.put(h, a.uuid());
    }
  }

  private void unindex(StoredAgent a) {
    if (a.refreshHash() != null) {
      uuidByCurrentHash.remove(a.refreshHash(), a.uuid());
    }
    for (String h : a.previousRefreshHashes()) {
      uuidByPreviousHash.remove(h, a.uuid());
    }
  }

  private StoredAgent agentFor(String uuid) {
    return uuid == null ? null : agents.get(uuid);
  }

  /** Writes the table unless a write of version {@code target} or later already happened. */
  private boolean writeUpTo(long target) throws IOException {
    synchronized (writeLock) {
      if (writtenVersion >= target) {
        return false;
      }
      List<StoredAgent> copy;
      long copied;
      synchronized (this) {
        copy = List.copyOf(agents.values());
        copied = version;
      }
      AtomicFiles.writeSecret(file,
          StateJson.MAPPER.writeValueAsBytes(new AgentsFile(FILE_VERSION, copy)));
      writtenVersion = copied;
      return true;
    }
  }

  private static List<StoredAgent> readFile(Path file) throws IOException {
    AgentsFile parsed;
    try {
      parsed = StateJson.MAPPER.readValue(Files.readAllBytes(file), AgentsFile.class);
    } catch (NoSuchFileException e) {
      return List.of();
    } catch (JsonProcessingException e) {
      throw new IOException(file + ": not a valid agents file: " + e.getOriginalMessage(), e);
    }
    if (parsed == null || parsed.agents() == null) {
      throw new IOException(file + ": missing \"agents\"");
    }
    List<StoredAgent> out = new ArrayList<>(parsed.agents().size());
    Map<String, Boolean> seen = new HashMap<>();
    for (StoredAgent a : parsed.agents()) {
      String problem = problemWith(a);
      if (problem != null) {
        throw new IOException(file + ": agent " + (a == null ? "null" : a.uuid()) + ": " + problem);
      }
      if (seen.put(a.uuid(), Boolean.TRUE) != null) {
        throw new IOException(file + ": agent " + a.uuid() + " appears twice");
      }
      out.add(a);
    }
    return out;
  }

  private static String problemWith(StoredAgent a) {
    if (a == null || a.uuid() == null || a.uuid().isEmpty()) {
      return "uuid is missing";
    }
    if (a.projectId() == null || !ProjectRegistry.ID_PATTERN.matcher(a.projectId()).matches()) {
      return "project_id is invalid";
    }
    if (a.refreshHash() != null && !HEX64.matcher(a.refreshHash()).matches()) {
      return "refresh_hash is not a SHA-256 hex digest";
    }
    if (a.previousRefreshHashes().size() > PREVIOUS_REFRESH_HASHES
        || a.previousRefreshHashes().stream().anyMatch(h -> h == null || !HEX64.matcher(h).matches())) {
      return "previous_refresh_hashes is invalid";
    }
    return null;
  }

  private static List<AgentInfo> sorted(List<AgentInfo> rows) {
    return rows.stream()
        .sorted(Comparator.comparing(AgentInfo::projectId)
            .thenComparing(AgentInfo::hostname, Comparator.nullsFirst(Comparator.naturalOrder()))
            .thenComparing(AgentInfo::uuid))
        .toList();
  }

  private static String canonicalUuid(String raw) {
    try {
      return UUID.fromString(raw).toString();
    } catch (IllegalArgumentException e) {
      return "";
    }
  }

  private static String newUuid() {
    return UUID.randomUUID().toString();
  }

  private static String newRefreshToken() {
    return REFRESH_PREFIX + SecretHashes.newSecret(REFRESH_TOKEN_BYTES);
  }

  private static void requirePercent(String what, double value) {
    if (!Double.isFinite(value) || value < 0 || value > 100) {
      throw new IllegalArgumentException(what + " must be a percentage 0..100, got " + value);
    }
  }
}
