package dev.rlog.collector.auth;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import dev.rlog.common.config.AtomicFiles;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.DateTimeException;
import java.time.ZoneId;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The projects, persisted in {@code <stateDir>/projects.json} (mode 0600: it holds key hashes).
 * Ops create a project with the CLI, which prints its key once ({@code rlp_<random>}); only the
 * key's SHA-256 is stored.
 *
 * <p>Two processes share the file: the CLI writes it, the running collector only reads it and
 * picks changes up through {@link #reloadIfChanged()} (compares file identity, mtime and size; a
 * stat per call), which {@link #findByKey} calls. Every write happens under an exclusive
 * {@link FileChannel#lock()} on {@code <stateDir>/projects.lock} and re-reads the file inside the
 * lock, so two concurrent CLI runs never lose each other's project; the file is replaced
 * atomically ({@link AtomicFiles#writeSecret}), so readers never see half a file.
 *
 * <p>Threading: thread-safe. Readers get the current immutable map; reloads and writes are
 * serialized. Bounds: at most {@value #MAX_PROJECTS} projects, {@value #MAX_SOURCES} sources per
 * project; every field is validated on create and on load. A file that fails to load at
 * {@link #open} is an error; one that fails on a later reload is logged and the last good state
 * is kept.
 */
public final class ProjectRegistry {
  public static final String FILE_NAME = "projects.json";
  public static final String LOCK_FILE_NAME = "projects.lock";
  public static final String KEY_PREFIX = "rlp_";
  public static final Pattern ID_PATTERN = Pattern.compile("[a-z0-9][a-z0-9_-]{0,62}");
  public static final long DEFAULT_BATCH_SIZE = 1000;
  public static final long DEFAULT_FLUSH_INTERVAL_SEC = 10;
  public static final String DEFAULT_TIMEZONE = "UTC";
  public static final long MAX_BATCH_SIZE = 100_000;
  public static final long MAX_FLUSH_INTERVAL_SEC = 3600;
  public static final int MAX_PROJECTS = 1000;
  public static final int MAX_SOURCES = 256;
  public static final int MAX_LABEL_CHARS = 128;
  public static final int MAX_PATH_CHARS = 4096;
  /** Longer presented keys are refused without hashing. */
  public static final int MAX_KEY_CHARS = 256;

  private static final Logger log = LoggerFactory.getLogger(ProjectRegistry.class);
  private static final int KEY_BYTES = 32;
  private static final int FILE_VERSION = 1;
  private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");
  /** FileChannel locks are per process; this serializes writers inside one JVM. */
  private static final Object JVM_WRITE_LOCK = new Object();

  private final Path file;
  private final Path lockFile;
  private volatile State state;

  private record ProjectsFile(
      @JsonProperty("version") int version, @JsonProperty("projects") List<Project> projects) {}

  private record FileStamp(Object fileKey, FileTime modified, long size) {
    static final FileStamp ABSENT = new FileStamp(null, null, -1);
  }

  private record State(FileStamp stamp, Map<String, Project> byId) {}

  private ProjectRegistry(Path stateDir) {
    this.file = stateDir.resolve(FILE_NAME);
    this.lockFile = stateDir.resolve(LOCK_FILE_NAME);
  }

  /** Loads the projects of {@code stateDir}; no file means no projects yet. */
  public static ProjectRegistry open(Path stateDir) throws IOException {
    ProjectRegistry registry = new ProjectRegistry(stateDir);
    registry.state = registry.readFromDisk();
    return registry;
  }

  /** Creates a project with default settings and no sources; returns its key (shown once). */
  public String create(String id) throws IOException {
    return create(id, DEFAULT_BATCH_SIZE, DEFAULT_FLUSH_INTERVAL_SEC, DEFAULT_TIMEZONE, List.of());
  }

  /**
   * Creates a project and returns its plain key; the key is not stored and cannot be shown again.
   *
   * @throws IllegalArgumentException if a setting is invalid (the message names it)
   * @throws IllegalStateException if the id is taken or the registry is full
   */
  public String create(String id, long batchSize, long flushIntervalSec, String timezone,
      List<Project.Source> sources) throws IOException {
    String key = KEY_PREFIX + SecretHashes.newSecret(KEY_BYTES);
    Project project = new Project(
        id, SecretHashes.sha256Hex(key), batchSize, flushIntervalSec, timezone, sources);
    validate(project);
    update(projects -> {
      if (projects.containsKey(id)) {
        throw new IllegalStateException("project '" + id + "' already exists in " + file);
      }
      if (projects.size() >= MAX_PROJECTS) {
        throw new IllegalStateException(file + " already holds " + MAX_PROJECTS + " projects");
      }
      projects.put(id, project);
      return projects;
    });
    log.info("created project {}", id);
    return key;
  }

  /** Replaces the sources of a project. */
  public void setSources(String id, List<Project.Source> sources) throws IOException {
    update(projects -> {
      Project current = projects.get(id);
      if (current == null) {
        throw new IllegalArgumentException("no project '" + id + "' in " + file);
      }
      Project changed = current.withSources(sources);
      validate(changed);
      projects.put(id, changed);
      return projects;
    });
  }

  /**
   * The project whose key is {@code plainKey}, after picking up changes to the file. Every
   * unknown key gets the same empty answer, and every stored hash is compared (constant-time).
   */
  public Optional<Project> findByKey(String plainKey) {
    reloadIfChanged();
    if (plainKey == null || plainKey.isEmpty() || plainKey.length() > MAX_KEY_CHARS) {
      return Optional.empty();
    }
    String hash = SecretHashes.sha256Hex(plainKey);
    Project found = null;
    for (Project p : state.byId().values()) {
      if (SecretHashes.constantTimeEquals(hash, p.keyHash()) && found == null) {
        found = p;
      }
    }
    return Optional.ofNullable(found);
  }

  public Optional<Project> find(String id) {
    return Optional.ofNullable(state.byId().get(id));
  }

  /** All projects, sorted by id (immutable). */
  public List<Project> list() {
    return List.copyOf(state.byId().values());
  }

  /**
   * Re-reads the file if its identity, mtime or size changed since the last read.
   *
   * @return true if a new version was loaded
   */
  public synchronized boolean reloadIfChanged() {
    FileStamp now;
    try {
      now = stat();
    } catch (IOException e) {
      log.warn("cannot stat {}: {}", file, e.toString());
      return false;
    }
    if (now.equals(state.stamp())) {
      return false;
    }
    try {
      state = readFromDisk();
      log.info("reloaded {} ({} projects)", file, state.byId().size());
      return true;
    } catch (IOException | RuntimeException e) {
      // Remember the stamp so a broken file is reported once, not on every call.
      state = new State(now, state.byId());
      log.warn("keeping the previous projects: {} could not be loaded: {}", file, e.getMessage());
      return false;
    }
  }

  private void update(UnaryOperator<Map<String, Project>> change) throws IOException {
    synchronized (JVM_WRITE_LOCK) {
      Files.createDirectories(file.toAbsolutePath().getParent());
      try (FileChannel ch =
          FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
        ch.lock(); // released when the channel closes, also if this process dies
        State fresh = readFromDisk();
        Map<String, Project> next = change.apply(new TreeMap<>(fresh.byId()));
        AtomicFiles.writeSecret(file, StateJson.MAPPER.writeValueAsBytes(
            new ProjectsFile(FILE_VERSION, List.copyOf(next.values()))));
        synchronized (this) {
          state = new State(stat(), Collections.unmodifiableMap(new TreeMap<>(next)));
        }
      }
    }
  }

  private State readFromDisk() throws IOException {
    FileStamp stamp = stat();
    if (stamp == FileStamp.ABSENT) {
      return new State(stamp, Map.of());
    }
    ProjectsFile parsed;
    try {
      parsed = StateJson.MAPPER.readValue(Files.readAllBytes(file), ProjectsFile.class);
    } catch (NoSuchFileException e) {
      return new State(FileStamp.ABSENT, Map.of());
    } catch (JsonProcessingException e) {
      throw new IOException(file + ": not a valid projects file: " + e.getOriginalMessage(), e);
    }
    if (parsed == null || parsed.projects() == null) {
      throw new IOException(file + ": missing \"projects\"");
    }
    Map<String, Project> byId = new TreeMap<>();
    for (Project p : parsed.projects()) {
      try {
        validate(p);
        if (!HEX64.matcher(Objects.requireNonNullElse(p.keyHash(), "")).matches()) {
          throw new IllegalArgumentException("key_hash must be 64 lower-case hex digits");
        }
      } catch (IllegalArgumentException | NullPointerException e) {
        throw new IOException(file + ": project " + (p == null ? "null" : "'" + p.id() + "'") + ": "
            + e.getMessage());
      }
      if (byId.put(p.id(), p) != null) {
        throw new IOException(file + ": project '" + p.id() + "' appears twice");
      }
    }
    // Written sorted; a TreeMap keeps that order for list().
    return new State(stamp, Collections.unmodifiableMap(byId));
  }

  private FileStamp stat() throws IOException {
    try {
      BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
      return new FileStamp(a.fileKey(), a.lastModifiedTime(), a.size());
    } catch (NoSuchFileException e) {
      return FileStamp.ABSENT;
    }
  }

  /** Checks every setting of {@code p}; the message names the offending field. */
  static void validate(Project p) {
    if (p.id() == null || !ID_PATTERN.matcher(p.id()).matches()) {
      throw new IllegalArgumentException(
          "project id must match " + ID_PATTERN.pattern() + ", got '" + p.id() + "'");
    }
    if (p.batchSize() < 1 || p.batchSize() > MAX_BATCH_SIZE) {
      throw new IllegalArgumentException(
          "batch_size must be 1.." + MAX_BATCH_SIZE + ", got " + p.batchSize());
    }
    if (p.flushIntervalSec() < 1 || p.flushIntervalSec() > MAX_FLUSH_INTERVAL_SEC) {
      throw new IllegalArgumentException(
          "flush_interval_sec must be 1.." + MAX_FLUSH_INTERVAL_SEC + ", got " + p.flushIntervalSec());
    }
    try {
      ZoneId.of(Objects.requireNonNull(p.timezone(), "timezone"));
    } catch (DateTimeException | NullPointerException e) {
      throw new IllegalArgumentException("timezone must be a zone id like UTC or Europe/Paris, got '"
          + p.timezone() + "'");
    }
    validateSources(p.sources());
  }

  private static void validateSources(List<Project.Source> sources) {
    if (sources.size() > MAX_SOURCES) {
      throw new IllegalArgumentException("at most " + MAX_SOURCES + " sources, got " + sources.size());
    }
    Set<String> labels = new HashSet<>();
    for (Project.Source s : sources) {
      if (s == null) {
        throw new IllegalArgumentException("sources must not contain null");
      }
      requireText("source label", s.label(), MAX_LABEL_CHARS);
      requireText("source path of '" + s.label() + "'", s.path(), MAX_PATH_CHARS);
      if (!labels.add(s.label())) {
        throw new IllegalArgumentException("source label '" + s.label() + "' appears twice");
      }
    }
  }

  private static void requireText(String what, String value, int maxChars) {
    if (value == null || value.isBlank()) {
      throw new IllegalArgumentException(what + " must not be empty");
    }
    if (value.length() > maxChars) {
      throw new IllegalArgumentException(what + " must be at most " + maxChars + " characters");
    }
    if (value.chars().anyMatch(Character::isISOControl)) {
      throw new IllegalArgumentException(what + " must not contain control characters");
    }
  }
}
