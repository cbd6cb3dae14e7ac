package dev.rlog.common.tls;

import dev.rlog.common.config.YamlConfig;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads and writes the PEM files TLS is configured with, with the JDK alone: certificates
 * ({@code BEGIN CERTIFICATE}) and unencrypted PKCS#8 private keys ({@code BEGIN PRIVATE KEY}; RSA,
 * EC or Ed25519). Every error names the file and the problem, never the file's content.
 *
 * <p>Stateless and thread-safe.
 */
public final class PemFiles {
  public static final String CERTIFICATE = "CERTIFICATE";
  public static final String PRIVATE_KEY = "PRIVATE KEY";
  /** PEM files are small; a larger one is not what it claims to be. */
  static final long MAX_FILE_BYTES = 1 << 20;

  private static final Pattern BLOCK = Pattern.compile(
      "-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\\s]*?)-----END \\1-----");
  private static final List<String> KEY_ALGORITHMS = List.of("EC", "RSA", "Ed25519", "Ed448");

  private PemFiles() {}

  /** The certificates in {@code file}, in file order (a chain: leaf first). */
  public static List<X509Certificate> readCertificates(Path file) throws PemException {
    List<X509Certificate> out = new ArrayList<>();
    CertificateFactory cf;
    try {
      cf = CertificateFactory.getInstance("X.509");
    } catch (CertificateException e) {
      throw new IllegalStateException("the JDK has no X.509 support", e);
    }
    for (Block b : blocks(file)) {
      if (!b.type().equals(CERTIFICATE)) {
        continue;
      }
      try {
        out.add((X509Certificate) cf.generateCertificate(new ByteArrayInputStream(b.der())));
      } catch (CertificateException e) {
        throw new PemException(file + ": certificate " + (out.size() + 1) + " is not a valid"
            + " X.509 certificate");
      }
    }
    if (out.isEmpty()) {
      throw new PemException(file + ": no PEM certificate in it (-----BEGIN CERTIFICATE-----)");
    }
    return out;
  }

  /** The one private key in {@code file}. */
  public static PrivateKey readPrivateKey(Path file) throws PemException {
    PrivateKey key = null;
    for (Block b : blocks(file)) {
      switch (b.type()) {
        case PRIVATE_KEY -> {
          if (key != null) {
            throw new PemException(file + ": holds more than one private key");
          }
          key = pkcs8(file, b.der());
        }
        case "ENCRYPTED PRIVATE KEY" -> throw new PemException(file + ": the private key is"
            + " encrypted; rlog needs it unencrypted (protect it with mode 0600), e.g.: openssl"
            + " pkcs8 -topk8 -nocrypt -in KEY -out KEY.pem");
        case "RSA PRIVATE KEY", "EC PRIVATE KEY" -> throw new PemException(file + ": the private"
            + " key is in the old " + b.type() + " form; convert it to PKCS#8 with: openssl pkcs8"
            + " -topk8 -nocrypt -in KEY -out KEY.pem");
        default -> { } // certificates beside the key, parameters: not ours to judge
      }
    }
    if (key == null) {
      throw new PemException(file + ": no PEM private key in it (-----BEGIN PRIVATE KEY-----)");
    }
    return key;
  }

  /**
   * Checks that {@code key} belongs to {@code cert} by signing a random challenge with one and
   * verifying it with the other.
   */
  public static boolean matches(PrivateKey key, X509Certificate cert) {
    String alg = switch (key.getAlgorithm()) {
      case "RSA" -> "SHA256withRSA";
      case "EC" -> "SHA256withECDSA";
      default -> key.getAlgorithm(); // Ed25519, Ed448, EdDSA
    };
    try {
      byte[] challenge = new byte[32];
      new SecureRandom().nextBytes(challenge);
      Signature s = Signature.getInstance(alg);
      s.initSign(key);
      s.update(challenge);
      byte[] sig = s.sign();
      Signature v = Signature.getInstance(alg);
      v.initVerify(cert.getPublicKey());
      v.update(challenge);
      return v.verify(sig);
    } catch (GeneralSecurityException e) {
      return false; // e.g. an RSA key beside an EC certificate
    }
  }

  /** {@code der} as one PEM block of {@code type}, lines of 64 characters. */
  public static String encode(String type, byte[] der) {
    String b64 = Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der);
    return "-----BEGIN " + type + "-----\n" + b64 + "\n-----END " + type + "-----\n";
  }

  /**
   * Validates the certificate file named by {@code y}'s {@code key}; returns its path, or null
   * when the key is absent. A problem is a {@link dev.rlog.common.config.ConfigException} naming
   * the config file and the key.
   */
  public static Path certificatesAt(YamlConfig y, String key) {
    Path p = pathAt(y, key);
    if (p != null) {
      try {
        readCertificates(p);
      } catch (PemException e) {
        throw y.error(key, e.getMessage());
      }
    }
    return p;
  }

  /**
   * Validates a certificate and its private key named by {@code certKey} and {@code keyKey} of
   * {@code y}: both or neither, readable, and belonging together. Returns null when both are
   * absent; otherwise a {@link TlsFiles} with {@code ca} null.
   */
  public static TlsFiles certificateAndKeyAt(YamlConfig y, String certKey, String keyKey) {
    Path cert = pathAt(y, certKey);
    Path key = pathAt(y, keyKey);
    if (cert == null && key == null) {
      return null;
    }
    if (cert == null) {
      throw y.error(certKey, "is required when " + y.key(keyKey) + " is set");
    }
    if (key == null) {
      throw y.error(keyKey, "is required when " + y.key(certKey) + " is set");
    }
    X509Certificate leaf;
    PrivateKey pk;
    try {
      leaf = readCertificates(cert).get(0);
    } catch (PemException e) {
      throw y.error(certKey, e.getMessage());
    }
    try {
      pk = readPrivateKey(key);
    } catch (PemException e) {
      throw y.error(keyKey, e.getMessage());
    }
    if (!matches(pk, leaf)) {
      throw y.error(keyKey, key + " is not the private key of the certificate in " + cert);
    }
    return new TlsFiles(cert, key, null);
  }

  private static Path pathAt(YamlConfig y, String key) {
    String s = y.string(key, null);
    if (s == null) {
      return null;
    }
    if (s.isBlank()) {
      throw y.error(key, "must be a file path, got an empty value");
    }
    return Path.of(s.strip());
  }

  private static PrivateKey pkcs8(Path file, byte[] der) throws PemException {
    for (String alg : KEY_ALGORITHMS) {
      try {
        return KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(der));
      } catch (GeneralSecurityException e) {
        // not this algorithm; try the next
      }
    }
    throw new PemException(file + ": the private key is not an RSA, EC or Ed25519 PKCS#8 key");
  }

  private record Block(String type, byte[] der) {}

  private static List<Block> blocks(Path file) throws PemException {
    String text;
    try {
      if (Files.size(file) > MAX_FILE_BYTES) {
        throw new PemException(file + ": larger than " + MAX_FILE_BYTES + " bytes, not a PEM file");
      }
      text = new String(Files.readAllBytes(file), StandardCharsets.US_ASCII);
    } catch (NoSuchFileException e) {
      throw new PemException(file + ": file not found");
    } catch (AccessDeniedException e) {
      throw new PemException(file + ": permission denied");
    } catch (IOException e) {
      throw new PemException(file + ": cannot read: " + e.getClass().getSimpleName());
    }
    List<Block> out = new ArrayList<>();
    Matcher m = BLOCK.matcher(text);
    while (m.find()) {
      try {
        out.add(new Block(m.group(1), Base64.getMimeDecoder().decode(m.group(2))));
      } catch (IllegalArgumentException e) {
        throw new PemException(file + ": a " + m.group(1) + " block is not valid base64");
      }
    }
    return out;
  }
}
