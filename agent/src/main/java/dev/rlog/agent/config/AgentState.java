package dev.rlog.agent.config;

import dev.rlog.common.config.AtomicFiles;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Optional;

/**
 * The agent's identity under {@code state/}: {@value #AGENT_UUID_FILE} (the uuid the collector
 * assigned), {@value #SECRET_FILE} (a random secret this agent generated at its first start; the
 * collector re-registers the uuid only for a request carrying it, so it is what makes the uuid
 * this agent's) and {@value #TOKEN_FILE} (the current refresh token, a secret). Each file holds one
 * line and is replaced atomically (temp file, fsync, rename), created with mode 0600, so a crash
 * leaves the old value or the new one, never a torn one.
 *
 * <p>The values are never logged, nor put in exception messages; messages name the file only.
 * Stateless apart from the directory; thread-safe, but the refresh token has a single writer
 * (the token manager), since two writers could persist tokens in the wrong order.
 */
public final class AgentState {
  public static final Path DEFAULT_DIR = Path.of("state");
  public static final String AGENT_UUID_FILE = "agent_uuid";
  public static final String TOKEN_FILE = "token";
  public static final String SECRET_FILE = "agent_secret";
  /** Random bytes in a generated agent secret (base64url: 43 characters). */
  public static final int SECRET_BYTES = 32;
  /** The collector's bounds for agent_secret; a stored secret outside them is an error. */
  public static final int MIN_SECRET_CHARS = 16;
  public static final int MAX_SECRET_CHARS = 256;

  private static final SecureRandom RANDOM = new SecureRandom();
  private static final Base64.Encoder BASE64URL = Base64.getUrlEncoder().withoutPadding();
  /** Same limits the collector applies; anything longer is not a value it issued. */
  public static final int MAX_AGENT_UUID_CHARS = 64;
  public static final int MAX_TOKEN_CHARS = 256;

  private final Path dir;

  public AgentState(Path dir) {
    if (dir == null) {
      throw new IllegalArgumentException("dir is required");
    }
    this.dir = dir;
  }

  public Path dir() {
    return dir;
  }

  public Path agentUuidFile() {
    return dir.resolve(AGENT_UUID_FILE);
  }

  public Path tokenFile() {
    return dir.resolve(TOKEN_FILE);
  }

  public Path secretFile() {
    return dir.resolve(SECRET_FILE);
  }

  /**
   * The agent secret, generated and stored first if there is none yet: at the first start, or
   * on the first start after an upgrade from a version that had a uuid but no secret.
   *
   * @throws IOException if the file exists but is unreadable or invalid (it is never silently
   *     replaced: a new secret would cost the agent its uuid), or cannot be written
   */
  public String agentSecret() throws IOException {
    Optional<String> stored = read(secretFile(), MAX_SECRET_CHARS);
    if (stored.isPresent()) {
      if (stored.get().length() < MIN_SECRET_CHARS) {
        throw new IOException(secretFile() + ": is shorter than " + MIN_SECRET_CHARS
            + " characters");
      }
      return stored.get();
    }
    byte[] raw = new byte[SECRET_BYTES];
    RANDOM.nextBytes(raw);
    String fresh = BASE64URL.encodeToString(raw);
    write(secretFile(), fresh, MAX_SECRET_CHARS);
    return fresh;
  }

  /** The stored agent uuid; empty if the file does not exist. */
  public Optional<String> readAgentUuid() throws IOException {
    return read(agentUuidFile(), MAX_AGENT_UUID_CHARS);
  }

  /** The stored refresh token; empty if the file does not exist. */
  public Optional<String> readRefreshToken() throws IOException {
    return read(tokenFile(), MAX_TOKEN_CHARS);
  }

  public void writeAgentUuid(String uuid) throws IOException {
    write(agentUuidFile(), uuid, MAX_AGENT_UUID_CHARS);
  }

  public void writeRefreshToken(String token) throws IOException {
    write(tokenFile(), token, MAX_TOKEN_CHARS);
  }

  @Override
  public String toString() {
    return "AgentState[" + dir + "]";
  }

  private static Optional<String> read(Path file, int maxChars) throws IOException {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (CharacterCodingException e) {
      throw new IOException(file + ": not valid UTF-8 text");
    }
    String value = text.strip();
    String problem = problem(value, maxChars);
    if (problem != null) {
      throw new IOException(file + ": " + problem);
    }
    return Optional.of(value);
  }

  private static void write(Path file, String value, int maxChars) throws IOException {
    String problem = value == null ? "value is missing" : problem(value, maxChars);
    if (problem != null) {
      // Checked before writing: a bad value would otherwise only show up at the next start.
      throw new IllegalArgumentException("refusing to write " + file + ": " + problem);
    }
    AtomicFiles.writeSecret(file, (value + "\n").getBytes(StandardCharsets.UTF_8));
  }

  private static String problem(String value, int maxChars) {
    if (value.isEmpty()) {
      return "is empty";
    }
    if (value.length() > maxChars) {
      return "is longer than " + maxChars + " characters";
    }
    if (value.chars().anyMatch(c -> Character.isISOControl(c) || Character.isWhitespace(c))) {
      return "contains whitespace or control characters";
    }
    return null;
  }
}
