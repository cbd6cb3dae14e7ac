package dev.rlog.collector.auth;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * One project as stored in {@code projects.json}: its id, the SHA-256 hex of its key (the key
 * itself is never stored), and the settings handed to its agents at registration. Immutable;
 * validated by {@link ProjectRegistry}. {@link #toString()} leaves the key hash out.
 */
public record Project(
    @JsonProperty("id") String id,
    @JsonProperty("key_hash") String keyHash,
    @JsonProperty("batch_size") long batchSize,
    @JsonProperty("flush_interval_sec") long flushIntervalSec,
    @JsonProperty("timezone") String timezone,
    @JsonProperty("sources") List<Source> sources) {

  /** A file the project's agents tail, under a label. */
  public record Source(
      @JsonProperty("label") String label,
      @JsonProperty("path") String path,
      @JsonProperty("enabled") boolean enabled) {}

  public Project {
    sources = sources == null ? List.of() : List.copyOf(sources);
  }

  Project withSources(List<Source> newSources) {
    return new Project(id, keyHash, batchSize, flushIntervalSec, timezone, newSources);
  }

  @Override
  public String toString() {
    return "Project[id=" + id + ", batchSize=" + batchSize + ", flushIntervalSec=" + flushIntervalSec
        + ", timezone=" + timezone + ", sources=" + sources + "]";
  }
}
