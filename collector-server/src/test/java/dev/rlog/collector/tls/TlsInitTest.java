package dev.rlog.collector.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.common.tls.PemFiles;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TlsInitTest {
  private static final Instant NOW = Instant.now();
  private static final Duration DAY = Duration.ofDays(1);

  @TempDir Path dir;

  private static String mode(Path p) throws Exception {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
  }

  @Test
  void writesCaServerAndClientFilesWithPrivateKeys() throws Exception {
    Path tls = dir.resolve("config/tls");
    List<Path> written = TlsInit.init(tls, List.of("collector.example.com", "10.0.0.5"),
        List.of("web-1"), false, NOW, DAY);
    assertThat(written).containsExactlyInAnyOrder(tls.resolve("ca.pem"),
        tls.resolve("ca-key.pem"), tls.resolve("server.pem"), tls.resolve("server-key.pem"),
        tls.resolve("client-web-1.pem"), tls.resolve("client-web-1-key.pem"));
    for (String key : List.of("ca-key.pem", "server-key.pem", "client-web-1-key.pem")) {
      assertThat(mode(tls.resolve(key))).as(key).isEqualTo("rw-------");
    }
    assertThat(mode(tls)).isEqualTo("rwx------");
    try (var s = Files.list(tls)) {
      assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.contains(".tmp"));
    }

    X509Certificate ca = PemFiles.readCertificates(tls.resolve("ca.pem")).get(0);
    X509Certificate server = PemFiles.readCertificates(tls.resolve("server.pem")).get(0);
    server.verify(ca.getPublicKey());
    assertThat(server.getSubjectAlternativeNames()).extracting(l -> String.valueOf(l.get(1)))
        .containsExactly("collector.example.com", "10.0.0.5");
    assertThat(PemFiles.matches(PemFiles.readPrivateKey(tls.resolve("server-key.pem")), server))
        .isTrue();
    PemFiles.readCertificates(tls.resolve("client-web-1.pem")).get(0).verify(ca.getPublicKey());
  }

  @Test
  void neverReplacesFilesUnlessForced() throws Exception {
    TlsInit.init(dir, List.of("localhost"), List.of(), false, NOW, DAY);
    String ca = Files.readString(dir.resolve("ca.pem"));
    FileAlreadyExistsException e = assertThrows(FileAlreadyExistsException.class,
        () -> TlsInit.init(dir, List.of("localhost"), List.of("new"), false, NOW, DAY));
    assertThat(e.getMessage()).contains("ca.pem").contains("--force");
    assertThat(Files.readString(dir.resolve("ca.pem"))).isEqualTo(ca);
    assertThat(dir.resolve("client-new.pem")).doesNotExist();

    TlsInit.init(dir, List.of("localhost"), List.of(), true, NOW, DAY);
    assertThat(Files.readString(dir.resolve("ca.pem"))).isNotEqualTo(ca);
  }

  @Test
  void laterClientCertificatesComeFromTheSameCa() throws Exception {
    TlsInit.init(dir, List.of("localhost"), List.of(), false, NOW, DAY);
    TlsInit.issueClient(dir, "web-2", false, NOW, DAY);
    X509Certificate ca = PemFiles.readCertificates(dir.resolve("ca.pem")).get(0);
    PemFiles.readCertificates(dir.resolve("client-web-2.pem")).get(0).verify(ca.getPublicKey());
    assertThat(mode(dir.resolve("client-web-2-key.pem"))).isEqualTo("rw-------");
    assertThrows(FileAlreadyExistsException.class,
        () -> TlsInit.issueClient(dir, "web-2", false, NOW, DAY));
    assertThrows(IllegalArgumentException.class,
        () -> TlsInit.issueClient(dir, "../escape", false, NOW, DAY));
    assertThat(assertThrows(java.io.IOException.class,
        () -> TlsInit.issueClient(dir.resolve("empty"), "x", false, NOW, DAY)).getMessage())
        .contains("tls init");
  }

  @Test
  void refusesBadHostsBeforeWritingAnything() {
    assertThrows(IllegalArgumentException.class,
        () -> TlsInit.init(dir.resolve("t"), List.of("not a host"), List.of(), false, NOW, DAY));
    assertThat(dir.resolve("t")).doesNotExist();
  }
}
