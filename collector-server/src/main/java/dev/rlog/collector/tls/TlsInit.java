package dev.rlog.collector.tls;

import dev.rlog.common.config.AtomicFiles;
import dev.rlog.common.tls.CertificateAuthority;
import dev.rlog.common.tls.CertificateAuthority.Issued;
import dev.rlog.common.tls.PemException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The files of a first TLS setup, in one directory: a private CA ({@value #CA_CERT}, {@value
 * #CA_KEY}), a server certificate for the collector ({@value #SERVER_CERT}, {@value #SERVER_KEY})
 * and, for mutual TLS, client certificates ({@code client-NAME.pem}, {@code client-NAME-key.pem}).
 *
 * <p>Every file is written atomically; private keys are mode 0600 from creation. Existing files
 * are never replaced unless asked ({@code force}): replacing a CA silently would lock out every
 * agent that trusts the old one. Stateless.
 */
public final class TlsInit {
  public static final String CA_CERT = "ca.pem";
  public static final String CA_KEY = "ca-key.pem";
  public static final String SERVER_CERT = "server.pem";
  public static final String SERVER_KEY = "server-key.pem";
  public static final String CA_NAME = "rlog collector CA";
  private static final Pattern CLIENT_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

  private TlsInit() {}

  public static Path clientCert(Path dir, String name) {
    return dir.resolve("client-" + name + ".pem");
  }

  public static Path clientKey(Path dir, String name) {
    return dir.resolve("client-" + name + "-key.pem");
  }

  /**
   * Creates a CA, a server certificate for {@code hosts} and a client certificate per name in
   * {@code clients}. Returns the files written.
   *
   * @throws FileAlreadyExistsException if a file exists and {@code force} is false (nothing is
   *     written then)
   * @throws IllegalArgumentException for a host that is neither a DNS name nor an IP address, or
   *     a client name unfit for a file name
   */
  public static List<Path> init(Path dir, List<String> hosts, List<String> clients, boolean force,
      Instant now, Duration leafValidity) throws IOException {
    List<Path> targets = new ArrayList<>(List.of(dir.resolve(CA_CERT), dir.resolve(CA_KEY),
        dir.resolve(SERVER_CERT), dir.resolve(SERVER_KEY)));
    for (String c : clients) {
      checkClientName(c);
      targets.add(clientCert(dir, c));
      targets.add(clientKey(dir, c));
    }
    if (!force) {
      refuseExisting(targets);
    }
    CertificateAuthority ca = CertificateAuthority.create(CA_NAME, now,
        CertificateAuthority.DEFAULT_CA_VALIDITY);
    Issued server = ca.issueServer(hosts, now, leafValidity);
    List<Issued> issuedClients = new ArrayList<>();
    for (String c : clients) {
      issuedClients.add(ca.issueClient(c, now, leafValidity));
    }

    createPrivateDirectory(dir);
    write(dir.resolve(CA_KEY), ca.ca(), true);
    write(dir.resolve(CA_CERT), ca.ca(), false);
    write(dir.resolve(SERVER_KEY), server, true);
    write(dir.resolve(SERVER_CERT), server, false);
    for (int i = 0; i < clients.size(); i++) {
      write(clientKey(dir, clients.get(i)), issuedClients.get(i), true);
      write(clientCert(dir, clients.get(i)), issuedClients.get(i), false);
    }
    return targets;
  }

  /**
   * Issues one more client certificate with the CA that {@link #init} left in {@code dir}.
   * Returns the certificate and key files written.
   */
  public static List<Path> issueClient(Path dir, String name, boolean force, Instant now,
      Duration validity) throws IOException {
    checkClientName(name);
    List<Path> targets = List.of(clientCert(dir, name), clientKey(dir, name));
    if (!force) {
      refuseExisting(targets);
    }
    CertificateAuthority ca;
    try {
      ca = CertificateAuthority.load(dir.resolve(CA_CERT), dir.resolve(CA_KEY));
    } catch (PemException e) {
      throw new IOException(e.getMessage() + " (create the CA first with: tls init)", e);
    }
    Issued client = ca.issueClient(name, now, validity);
    write(clientKey(dir, name), client, true);
    write(clientCert(dir, name), client, false);
    return targets;
  }

  private static void checkClientName(String name) {
    if (!CLIENT_NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("client name '" + name + "' must be 1-64 letters, digits,"
          + " '.', '_' or '-' (it becomes a file name)");
    }
  }

  private static void refuseExisting(List<Path> targets) throws FileAlreadyExistsException {
    for (Path p : targets) {
      if (Files.exists(p)) {
        throw new FileAlreadyExistsException(p.toString(), null,
            "exists; nothing was written (--force replaces it, and every agent must then get the"
                + " new files)");
      }
    }
  }

  private static void createPrivateDirectory(Path dir) throws IOException {
    if (Files.isDirectory(dir)) {
      return;
    }
    if (dir.toAbsolutePath().getFileSystem().supportedFileAttributeViews().contains("posix")) {
      Files.createDirectories(dir,
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    } else {
      Files.createDirectories(dir);
    }
  }

  private static void write(Path file, Issued issued, boolean key) throws IOException {
    if (key) {
      AtomicFiles.writeSecret(file, issued.keyPem().getBytes(StandardCharsets.US_ASCII));
    } else {
      AtomicFiles.write(file, issued.certificatePem().getBytes(StandardCharsets.US_ASCII));
    }
  }
}
