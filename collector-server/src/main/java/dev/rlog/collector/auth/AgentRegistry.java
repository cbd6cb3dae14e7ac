package dev.rlog.collector.auth;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
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
import java.util.concurrent.atomic.AtomicLong;
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
 * <p>Durability: a change takes effect only once written. Register, refresh and rotation write
 * the table as it will be, and only then change memory; if the write fails ({@link IOException},
 * answered {@code UNAVAILABLE}) memory is as before, so the agent's retry with its old refresh
 * token is honoured, not mistaken for reuse. Revocation is the exception: it takes effect at
 * once and is saved by the same or the next write. Heartbeats only mark the table dirty; the
 * owner calls {@link #flushIfDirty()} every {@link #HEARTBEAT_FLUSH_INTERVAL} or so, and
 * {@link #close()} flushes. Each write rewrites the whole file (about 1.5 KB per agent), and
 * writes are serialized: one fsync per registration or refresh.
 *
 * <p>Threading: thread-safe. {@code writeLock} serializes every change that is written (held
 * across the file write); the table monitor guards the maps and is never held across I/O.
 * Readers get immutable {@link AgentInfo} copies. Bounds: at most {@value #MAX_AGENTS} agents; registering one more
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
  private final StateFileWriter writer;
  private final AtomicLong identityRefusals = new AtomicLong();

  // Guarded by this.
  private final Map<String, StoredAgent> agents = new TreeMap<>();
  private final Map<String, String> uuidByCurrentHash = new HashMap<>();
  private final Map<String, String> uuidByPreviousHash = new HashMap<>();
  private long version;

  private final Object writeLock = new Object();
  // Guarded by writeLock.
  private long writtenVersion;

  private AgentRegistry(Path stateDir, Clock clock, TokenIssuer issuer, StateFileWriter writer) {
    this.file = stateDir.resolve(FILE_NAME);
    this.clock = clock;
    this.issuer = issuer;
    this.writer = writer;
  }

  /** Loads the agents of {@code stateDir}; no file means no agents yet. */
  public static AgentRegistry open(Path stateDir, Clock clock, TokenIssuer issuer)
      throws IOException {
    return open(stateDir, clock, issuer, StateFileWriter.ATOMIC_SECRET);
  }

  /** Like {@link #open(Path, Clock, TokenIssuer)} writing through {@code writer} (tests). */
  public static AgentRegistry open(Path stateDir, Clock clock, TokenIssuer issuer,
      StateFileWriter writer) throws IOException {
    if (stateDir == null || clock == null || issuer == null || writer == null) {
      throw new IllegalArgumentException("stateDir, clock, issuer and writer are required");
    }
    AgentRegistry registry = new AgentRegistry(stateDir, clock, issuer, writer);
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
   * Registers an agent of {@code project}. Whether the uuid in the request is kept is decided by
   * {@link IdentityRule}: a uuid registered with an agent secret is kept only for a request
   * carrying that secret, a uuid registered without one (an original rlog-agent) only for a
   * request without one; a kept uuid starts a new token generation (its earlier tokens die).
   * Anything else gets a new random uuid; a request that named a known uuid it may not have is
   * logged and counted ({@link #identityRefusals()}). The secret is stored only as a hash. The
   * request fields must already be validated.
   *
   * @throws IOException if the table could not be written; then nothing changed
   */
  public IssuedTokens register(Project project, RegisterRequest request) throws IOException {
    String refresh = newRefreshToken();
    String refreshHash = SecretHashes.sha256Hex(refresh);
    String secretHash = request.getAgentSecret().isEmpty()
        ? null : SecretHashes.sha256Hex(request.getAgentSecret());
    StoredAgent stored;
    IdentityRule.Outcome outcome;
    String access;
    synchronized (writeLock) {
      StoredAgent before;
      StoredAgent next;
      synchronized (this) {
        StoredAgent named =
            request.hasAgentUuid() ? agents.get(canonicalUuid(request.getAgentUuid())) : null;
        outcome = IdentityRule.decide(named, project.id(), secretHash);
        if (outcome.keepsUuid()) {
          before = named;
          next = named.reRegistered(request.getHostname(), request.getOs(),
              request.getOsVersion(), refreshHash, PREVIOUS_REFRESH_HASHES);
        } else {
          if (agents.size() >= MAX_AGENTS) {
            throw new TableFullException();
          }
          before = null;
          next = new StoredAgent(newUuid(), project.id(), request.getHostname(), request.getOs(),
              request.getOsVersion(), clock.currentTimeMillis(), refreshHash, List.of(), 0, false,
              0, 0, 0, secretHash);
        }
      }
      stored = commit(before, next);
      access = issuer.issue(stored.uuid(), stored.projectId(), stored.tokenGeneration());
    }
    if (outcome.isRefusal()) {
      identityRefusals.incrementAndGet();
      log.warn("registration from host {} named agent {} but may not have it ({}); "
          + "assigned the new uuid {}", request.getHostname(), canonicalUuid(request.getAgentUuid()),
          outcome, stored.uuid());
    }
    log.info("registered agent {} of project {} on host {}", stored.uuid(), stored.projectId(),
        stored.hostname());
    return new IssuedTokens(stored.uuid(), access, refresh);
  }

  /**
   * Registrations that named a known uuid they may not have (wrong or missing secret, another
   * project, a secret for a secretless uuid) and were given a fresh uuid instead.
   */
  public long identityRefusals() {
    return identityRefusals.get();
  }

  /**
   * Gives the agent a new refresh token (returned once) and retires its current one.
   *
   * @throws IllegalArgumentException if no such agent is registered
   * @throws IllegalStateException if the agent is revoked (it must register again)
   * @throws IOException if the table could not be written; then nothing changed
   */
  public String rotateRefresh(String uuid) throws IOException {
    String refresh = newRefreshToken();
    String hash = SecretHashes.sha256Hex(refresh);
    synchronized (writeLock) {
      StoredAgent current;
      synchronized (this) {
        current = agents.get(uuid);
      }
      if (current == null) {
        throw new IllegalArgumentException("unknown agent " + uuid);
      }
      if (current.revoked()) {
        throw new IllegalStateException("agent " + uuid + " is revoked; it must register again");
      }
      commit(current, current.withRefresh(hash, PREVIOUS_REFRESH_HASHES));
    }
    return refresh;
  }

  /**
   * Exchanges the agent's current refresh token for a new access and refresh token. A retired
   * token revokes the agent's tokens and is refused with {@link RefreshRejectedException.Reason#REUSED}.
   *
   * <p>The rotation takes effect only once written: if the write fails this throws
   * {@link IOException} and the presented token stays the current one, so the agent's retry with
   * it is honoured, not taken for reuse. A revocation takes effect at once even if its write
   * fails (refusing is the safe side); the table stays dirty and the next write saves it.
   */
  public IssuedTokens refresh(String plainRefresh) throws RefreshRejectedException, IOException {
    if (plainRefresh == null || plainRefresh.isEmpty()
        || plainRefresh.length() > MAX_REFRESH_TOKEN_CHARS) {
      throw new RefreshRejectedException(RefreshRejectedException.Reason.UNKNOWN);
    }
    String presented = SecretHashes.sha256Hex(plainRefresh);
    String refresh = newRefreshToken();
    String refreshHash = SecretHashes.sha256Hex(refresh);
    synchronized (writeLock) {
      StoredAgent owner;
      StoredAgent victim = null;
      synchronized (this) {
        owner = agentFor(uuidByCurrentHash.get(presented));
        if (owner == null || !SecretHashes.constantTimeEquals(presented, owner.refreshHash())) {
          owner = null;
          victim = agentFor(uuidByPreviousHash.get(presented));
          if (victim == null) {
            throw new RefreshRejectedException(RefreshRejectedException.Reason.UNKNOWN);
          }
          replace(victim, victim.revoke(PREVIOUS_REFRESH_HASHES));
        }
      }
      if (victim != null) {
        log.warn("replaced refresh token of agent {} (project {}) was presented again; "
            + "its tokens are revoked", victim.uuid(), victim.projectId());
        try {
          writeDirty();
        } catch (IOException e) {
          log.error("could not save the revocation to {}: {}", file, e.toString());
        }
        throw new RefreshRejectedException(RefreshRejectedException.Reason.REUSED);
      }
      StoredAgent rotated = commit(owner, owner.withRefresh(refreshHash, PREVIOUS_REFRESH_HASHES));
      String access = issuer.issue(rotated.uuid(), rotated.projectId(), rotated.tokenGeneration());
      return new IssuedTokens(rotated.uuid(), access, refresh);
    }
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
    return isOnline(agent.lastHeartbeatMillis(), nowMillis, offlineAfter);
  }

  private static boolean isOnline(long lastHeartbeat, long nowMillis, Duration offlineAfter) {
    return lastHeartbeat > 0 && nowMillis - lastHeartbeat <= offlineAfter.toMillis();
  }

  /** Agents known: for metrics, without the copy and sort of {@link #snapshot()}. */
  public synchronized int size() {
    return agents.size();
  }

  /** Agents {@link #isOnline online} now: for metrics, without building a snapshot. */
  public synchronized long countOnline(long nowMillis, Duration offlineAfter) {
    long n = 0;
    for (StoredAgent a : agents.values()) {
      if (isOnline(a.lastHeartbeat(), nowMillis, offlineAfter)) {
        n++;
      }
    }
    return n;
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

  /**
   * Writes the table as it would be with {@code next} in place of {@code before} (null: a new
   * agent), and only then puts {@code next} in memory; if the write fails, memory is unchanged.
   * Heartbeat fields are the one thing that changes outside {@code writeLock}: they are carried
   * over from the live row. Returns the row now in the table. Caller holds {@code writeLock}.
   */
  private StoredAgent commit(StoredAgent before, StoredAgent next) throws IOException {
    List<StoredAgent> proposed;
    long basis;
    synchronized (this) {
      next = carryHeartbeat(next);
      Map<String, StoredAgent> copy = new TreeMap<>(agents);
      copy.put(next.uuid(), next);
      proposed = List.copyOf(copy.values());
      basis = version;
    }
    writer.write(file, encode(proposed));
    synchronized (this) {
      boolean unchangedSince = version == basis;
      next = carryHeartbeat(next);
      replace(agents.get(next.uuid()), next);
      // The file holds memory as of basis plus this change; heartbeats since then are not in it.
      writtenVersion = unchangedSince ? version : Math.max(writtenVersion, basis);
    }
    return next;
  }

  private StoredAgent carryHeartbeat(StoredAgent next) {
    StoredAgent live = agents.get(next.uuid());
    return live == null ? next : next.withHeartbeatOf(live);
  }

  /** Writes the table unless a write of version {@code target} or later already happened. */
  private boolean writeUpTo(long target) throws IOException {
    synchronized (writeLock) {
      if (writtenVersion >= target) {
        return false;
      }
      return writeDirty();
    }
  }

  /** Writes memory as it is. Caller holds {@code writeLock}. */
  private boolean writeDirty() throws IOException {
    List<StoredAgent> copy;
    long copied;
    synchronized (this) {
      copy = List.copyOf(agents.values());
      copied = version;
    }
    writer.write(file, encode(copy));
    writtenVersion = copied;
    return true;
  }

  private static byte[] encode(List<StoredAgent> rows) throws IOException {
    return StateJson.MAPPER.writeValueAsBytes(new AgentsFile(FILE_VERSION, rows));
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
    if (a.secretHash() != null && !HEX64.matcher(a.secretHash()).matches()) {
      return "secret_hash is not a SHA-256 hex digest";
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
