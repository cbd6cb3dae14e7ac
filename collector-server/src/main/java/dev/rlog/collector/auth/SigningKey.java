package dev.rlog.collector.auth;

import dev.rlog.common.config.AtomicFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Arrays;
import java.util.Base64;
import java.util.EnumSet;
import java.util.Set;
import javax.crypto.SecretKey;
import javax.crypto.spec.SecretKeySpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HMAC-SHA256 key that signs and verifies access tokens, kept in
 * {@code <stateDir>/signing.key} as one line of standard base64. Generated on first start
 * ({@value #GENERATED_KEY_BYTES} random bytes) and written atomically with mode 0600; loaded as-is
 * afterwards, so tokens survive a collector restart. Replacing the file invalidates every access
 * token (agents then refresh, which does not depend on this key).
 *
 * <p>Bounds: a loaded key must hold {@value #MIN_KEY_BYTES}..{@value #MAX_KEY_BYTES} bytes, else
 * loading fails naming the file. The key is never logged; {@link #toString()} is redacted.
 *
 * <p>Threading: immutable after construction. One collector per state directory: two processes
 * generating the key at the same first start would each keep their own.
 */
public final class SigningKey {
  public static final String FILE_NAME = "signing.key";
  public static final int GENERATED_KEY_BYTES = 32;
  public static final int MIN_KEY_BYTES = 32;
  public static final int MAX_KEY_BYTES = 1024;

  private static final Logger log = LoggerFactory.getLogger(SigningKey.class);
  private static final String JCA_ALGORITHM = "HmacSHA256";
  private static final Set<PosixFilePermission> BROADER_THAN_OWNER = EnumSet.complementOf(
      EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE));

  private final SecretKey key;

  private SigningKey(byte[] raw) {
    this.key = new SecretKeySpec(raw, JCA_ALGORITHM);
  }

  /** Loads {@code <stateDir>/signing.key}, or generates and stores a new key if it is absent. */
  public static SigningKey loadOrCreate(Path stateDir) throws IOException {
    Path file = stateDir.resolve(FILE_NAME);
    byte[] text;
    try {
      text = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      byte[] raw = SecretHashes.randomBytes(GENERATED_KEY_BYTES);
      byte[] encoded = (Base64.getEncoder().encodeToString(raw) + "\n").getBytes(StandardCharsets.US_ASCII);
      AtomicFiles.writeSecret(file, encoded);
      Arrays.fill(encoded, (byte) 0);
      log.info("generated a new token signing key in {}", file);
      return new SigningKey(raw);
    }
    warnIfReadableByOthers(file);
    byte[] raw;
    try {
      raw = Base64.getDecoder().decode(new String(text, StandardCharsets.US_ASCII).strip());
    } catch (IllegalArgumentException e) {
      throw new IOException(file + ": signing key is not valid base64");
    } finally {
      Arrays.fill(text, (byte) 0);
    }
    if (raw.length < MIN_KEY_BYTES || raw.length > MAX_KEY_BYTES) {
      throw new IOException(file + ": signing key must be " + MIN_KEY_BYTES + ".." + MAX_KEY_BYTES
          + " bytes, found " + raw.length);
    }
    return new SigningKey(raw);
  }

  /** A fresh random key that is not stored anywhere (tests, throwaway collectors). */
  public static SigningKey generate() {
    return new SigningKey(SecretHashes.randomBytes(GENERATED_KEY_BYTES));
  }

  SecretKey secretKey() {
    return key;
  }

  @Override
  public String toString() {
    return "SigningKey[HS256, redacted]";
  }

  private static void warnIfReadableByOthers(Path file) {
    try {
      Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
      if (perms.stream().anyMatch(BROADER_THAN_OWNER::contains)) {
        log.warn("{} is accessible to other users ({}); it should be mode 0600", file, perms);
      }
    } catch (UnsupportedOperationException | IOException e) {
      // Not a POSIX file system: nothing to check.
    }
  }
}
