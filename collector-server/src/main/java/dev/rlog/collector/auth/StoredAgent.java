package dev.rlog.collector.auth;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.ArrayList;
import java.util.List;

/**
 * One agent as persisted in {@code agents.json}. Immutable; changes produce a copy. Holds only
 * hashes of refresh tokens: {@code refreshHash} is the current one (null once revoked),
 * {@code previousRefreshHashes} the most recently replaced ones, newest first, for reuse
 * detection. {@code secretHash} is the SHA-256 hex of the secret the agent registered with, or
 * null for an agent that registered without one (an original rlog-agent); it never changes for a
 * uuid (see {@link IdentityRule}).
 */
record StoredAgent(
    @JsonProperty("uuid") String uuid,
    @JsonProperty("project_id") String projectId,
    @JsonProperty("hostname") String hostname,
    @JsonProperty("os") String os,
    @JsonProperty("os_version") String osVersion,
    @JsonProperty("registered_at") long registeredAt,
    @JsonProperty("refresh_hash") String refreshHash,
    @JsonProperty("previous_refresh_hashes") List<String> previousRefreshHashes,
    @JsonProperty("token_generation") long tokenGeneration,
    @JsonProperty("revoked") boolean revoked,
    @JsonProperty("last_heartbeat") long lastHeartbeat,
    @JsonProperty("cpu") double cpu,
    @JsonProperty("memory") double memory,
    @JsonProperty("secret_hash") String secretHash) {

  StoredAgent {
    previousRefreshHashes =
        previousRefreshHashes == null ? List.of() : List.copyOf(previousRefreshHashes);
  }

  /** A copy with {@code newHash} as the current refresh hash; the old one moves to previous. */
  StoredAgent withRefresh(String newHash, int keepPrevious) {
    return new StoredAgent(uuid, projectId, hostname, os, osVersion, registeredAt, newHash,
        retire(refreshHash, keepPrevious), tokenGeneration, revoked, lastHeartbeat, cpu, memory, secretHash);
  }

  /** A copy with no current refresh token and a bumped generation, so every token dies. */
  StoredAgent revoke(int keepPrevious) {
    return new StoredAgent(uuid, projectId, hostname, os, osVersion, registeredAt, null,
        retire(refreshHash, keepPrevious), tokenGeneration + 1, true, lastHeartbeat, cpu, memory,
        secretHash);
  }

  /** A copy for a new registration of the same agent: new host facts, new generation. */
  StoredAgent reRegistered(String newHostname, String newOs, String newOsVersion, String newHash,
      int keepPrevious) {
    return new StoredAgent(uuid, projectId, newHostname, newOs, newOsVersion, registeredAt, newHash,
        retire(refreshHash, keepPrevious), tokenGeneration + 1, false, lastHeartbeat, cpu, memory,
        secretHash);
  }

  StoredAgent withHeartbeat(long epochMillis, double newCpu, double newMemory) {
    return new StoredAgent(uuid, projectId, hostname, os, osVersion, registeredAt, refreshHash,
        previousRefreshHashes, tokenGeneration, revoked, epochMillis, newCpu, newMemory, secretHash);
  }

  /** A copy carrying {@code other}'s heartbeat fields (they change outside registry writes). */
  StoredAgent withHeartbeatOf(StoredAgent other) {
    return withHeartbeat(other.lastHeartbeat, other.cpu, other.memory);
  }

  AgentInfo toInfo() {
    return new AgentInfo(uuid, projectId, hostname, os, osVersion, registeredAt, lastHeartbeat,
        cpu, memory, tokenGeneration, revoked, secretHash != null);
  }

  @Override
  public String toString() {
    return "StoredAgent[uuid=" + uuid + ", projectId=" + projectId + ", generation="
        + tokenGeneration + ", revoked=" + revoked + ", secret=" + (secretHash != null) + "]";
  }

  private List<String> retire(String hash, int keepPrevious) {
    if (hash == null) {
      return previousRefreshHashes;
    }
    List<String> next = new ArrayList<>(Math.min(previousRefreshHashes.size() + 1, keepPrevious));
    next.add(hash);
    for (String h : previousRefreshHashes) {
      if (next.size() >= keepPrevious) {
        break;
      }
      next.add(h);
    }
    return next;
  }
}
