package dev.rlog.collector.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;

/**
 * Hashing, comparison and generation of the collector's bearer secrets (project keys, refresh
 * tokens). Only the SHA-256 hex of a secret is ever stored; secrets are high-entropy random
 * strings, so a plain (unsalted, fast) hash is enough to make the stored form useless to a reader
 * of the state files.
 *
 * <p>Threading: stateless, safe from any thread ({@link SecureRandom} is thread-safe). Bounds:
 * {@link #newSecret(int)} accepts {@value #MIN_SECRET_BYTES}..{@value #MAX_SECRET_BYTES} bytes.
 */
public final class SecretHashes {
  public static final int MIN_SECRET_BYTES = 16;
  public static final int MAX_SECRET_BYTES = 512;

  private static final SecureRandom RANDOM = new SecureRandom();
  private static final HexFormat HEX = HexFormat.of();
  private static final Base64.Encoder URL_SAFE = Base64.getUrlEncoder().withoutPadding();

  private SecretHashes() {}

  /** Lower-case hex SHA-256 of the UTF-8 bytes of {@code secret} (64 characters). */
  public static String sha256Hex(String secret) {
    if (secret == null) {
      throw new IllegalArgumentException("secret must not be null");
    }
    return HEX.formatHex(sha256().digest(secret.getBytes(StandardCharsets.UTF_8)));
  }

  /**
   * Compares two strings in time that depends only on their lengths, not on where they differ.
   * Null is never equal to anything, not even null.
   */
  public static boolean constantTimeEquals(String a, String b) {
    if (a == null || b == null) {
      return false;
    }
    return MessageDigest.isEqual(
        a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
  }

  /** True when {@code plainSecret} hashes to {@code expectedHashHex}; constant-time compare. */
  public static boolean matches(String plainSecret, String expectedHashHex) {
    if (plainSecret == null || expectedHashHex == null) {
      return false;
    }
    return constantTimeEquals(sha256Hex(plainSecret), expectedHashHex);
  }

  /** {@code bytes} random bytes from {@link SecureRandom}, URL-safe base64 without padding. */
  public static String newSecret(int bytes) {
    if (bytes < MIN_SECRET_BYTES || bytes > MAX_SECRET_BYTES) {
      throw new IllegalArgumentException(
          "secret length must be " + MIN_SECRET_BYTES + ".." + MAX_SECRET_BYTES + " bytes, got " + bytes);
    }
    return URL_SAFE.encodeToString(randomBytes(bytes));
  }

  static byte[] randomBytes(int bytes) {
    byte[] b = new byte[bytes];
    RANDOM.nextBytes(b);
    return b;
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every Java platform", e);
    }
  }
}
