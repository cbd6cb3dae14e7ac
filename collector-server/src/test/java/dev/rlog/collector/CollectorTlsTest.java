package dev.rlog.collector;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.collector.store.WriteGate;
import dev.rlog.collector.tls.TlsInit;
import dev.rlog.common.net.CapturingProxy;
import dev.rlog.common.time.Clock;
import dev.rlog.common.wire.FrameEncoder;
import dev.rlog.proto.auth.RegisterResponse;
import dev.rlog.proto.log.LogServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The collector's listeners with TLS over loopback: gRPC with and without client certificates,
 * raw TCP ingest, refusals of plaintext and of clients without a certificate, and what a wire
 * tap between client and collector can read.
 */
class CollectorTlsTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final String LINE = "GET /secret-path?token=line-text-never-in-clear 200";

  @TempDir Path dir;
  private Path tls;
  private Path otherTls;

  @BeforeEach
  void pki() throws Exception {
    tls = dir.resolve("tls");
    TlsInit.init(tls, List.of("localhost", "127.0.0.1"), List.of("agent1"), false, Instant.now(),
        Duration.ofDays(1));
    otherTls = dir.resolve("other-tls"); // a second, unrelated CA
    TlsInit.init(otherTls, List.of("127.0.0.1"), List.of("intruder"), false, Instant.now(),
        Duration.ofDays(1));
  }

  private String serverTls(boolean mutual) {
    return "{cert: " + tls.resolve(TlsInit.SERVER_CERT) + ", key: "
        + tls.resolve(TlsInit.SERVER_KEY)
        + (mutual ? ", client_ca: " + tls.resolve(TlsInit.CA_CERT) : "") + "}";
  }

  private CollectorFixture start(String yaml) throws Exception {
    return new CollectorFixture(dir.resolve("collector"), yaml, Clock.system(), WriteGate.OPEN);
  }

  /** A gRPC channel to {@code port} over TLS trusting {@code caDir}'s CA, as client {@code name}. */
  private static NettyChannelBuilder tlsChannel(int port, Path caDir, String client)
      throws IOException {
    SslContextBuilder ssl = GrpcSslContexts.configure(SslContextBuilder.forClient(),
        SslProvider.JDK).trustManager(caDir.resolve(TlsInit.CA_CERT).toFile());
    if (client != null) {
      ssl.keyManager(TlsInit.clientCert(caDir, client).toFile(),
          TlsInit.clientKey(caDir, client).toFile());
    }
    return NettyChannelBuilder.forAddress("127.0.0.1", port).sslContext(ssl.build());
  }

  private static void assertRefused(CollectorFixture c, ManagedChannel ch, String key) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> c.register(ch, key, "host-a"));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
  }

  @Test
  void grpcOverTlsServesATrustingClientAndRefusesPlaintextAndStrangers() throws Exception {
    try (CollectorFixture c = start("grpc: {host: 127.0.0.1, port: 0, tls: " + serverTls(false)
        + "}")) {
      String key = c.createProject("p");
      int port = c.collector.grpcPort();
      RegisterResponse r = c.register(c.channel(tlsChannel(port, tls, null)), key, "host-a");
      assertThat(r.getSuccess()).isTrue();

      assertRefused(c, c.channel(NettyChannelBuilder.forAddress("127.0.0.1", port)
          .usePlaintext()), key);
      // a client that trusts another CA does not accept this collector's certificate
      assertRefused(c, c.channel(tlsChannel(port, otherTls, null)), key);
    }
  }

  @Test
  void mutualTlsRefusesClientsWithoutACertificateFromTheClientCa() throws Exception {
    try (CollectorFixture c = start("grpc: {host: 127.0.0.1, port: 0, tls: " + serverTls(true)
        + "}")) {
      String key = c.createProject("p");
      int port = c.collector.grpcPort();
      assertThat(c.register(c.channel(tlsChannel(port, tls, "agent1")), key, "host-a")
          .getSuccess()).isTrue();

      assertRefused(c, c.channel(tlsChannel(port, tls, null)), key);
      // a certificate from another CA, trusting the right server CA
      SslContextBuilder ssl = GrpcSslContexts.configure(SslContextBuilder.forClient(),
          SslProvider.JDK).trustManager(tls.resolve(TlsInit.CA_CERT).toFile())
          .keyManager(TlsInit.clientCert(otherTls, "intruder").toFile(),
              TlsInit.clientKey(otherTls, "intruder").toFile());
      assertRefused(c, c.channel(NettyChannelBuilder.forAddress("127.0.0.1", port)
          .sslContext(ssl.build())), key);
      assertThat(c.collector.agents().snapshot()).hasSize(1);
    }
  }

  /**
   * A tap between client and collector: over plaintext it reads the project key and the line
   * (which shows the tap works); over TLS it reads neither, while both still arrive.
   */
  @Test
  void aWireTapSeesTheProjectKeyAndLinesOnlyWithoutTls() throws Exception {
    for (boolean secure : List.of(false, true)) {
      Path cdir = dir.resolve(secure ? "tls-collector" : "plain-collector");
      String grpc = "grpc: {host: 127.0.0.1, port: 0"
          + (secure ? ", tls: " + serverTls(false) : "") + "}";
      try (CollectorFixture c = new CollectorFixture(cdir, grpc, Clock.system(), WriteGate.OPEN);
          CapturingProxy tap = new CapturingProxy("127.0.0.1", c.collector.grpcPort())) {
        String key = c.createProject("p");
        ManagedChannel ch = c.channel(secure ? tlsChannel(tap.port(), tls, null)
            : NettyChannelBuilder.forAddress("127.0.0.1", tap.port()).usePlaintext());
        RegisterResponse r = c.register(ch, key, "host-a");
        GrpcIngestIntegrationTest.send(CollectorFixture.withToken(LogServiceGrpc.newStub(ch),
            r.getAccessToken()), GrpcIngestIntegrationTest.batch("f1", 0, LINE))
            .get(30, TimeUnit.SECONDS);
        await().atMost(WAIT).until(() -> c.records().size() == 1);
        assertThat(c.records().get(0).get("line").asText()).isEqualTo(LINE);

        assertThat(tap.capturedBytes()).isPositive();
        assertThat(tap.sawText(key)).as("project key in clear, tls=%s", secure).isEqualTo(!secure);
        assertThat(tap.sawText(LINE)).as("line in clear, tls=%s", secure).isEqualTo(!secure);
        assertThat(tap.sawText(r.getRefreshToken())).as("refresh token in clear, tls=%s", secure)
            .isEqualTo(!secure);
      }
    }
  }

  /** A JDK TLS client context trusting {@code caDir}'s CA, presenting {@code client} if set. */
  private static SSLContext jdkTls(Path caDir, String client) throws Exception {
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("ca", dev.rlog.common.tls.PemFiles.readCertificates(
        caDir.resolve(TlsInit.CA_CERT)).get(0));
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    KeyManagerFactory kmf = null;
    if (client != null) {
      KeyStore keys = KeyStore.getInstance("PKCS12");
      keys.load(null, null);
      char[] pw = "test".toCharArray();
      keys.setKeyEntry("client", dev.rlog.common.tls.PemFiles.readPrivateKey(
          TlsInit.clientKey(caDir, client)), pw, dev.rlog.common.tls.PemFiles.readCertificates(
              TlsInit.clientCert(caDir, client)).toArray(X509Certificate[]::new));
      kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(keys, pw);
    }
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    return ctx;
  }

  private static void sendRecords(Socket s, String... payloads) throws IOException {
    OutputStream out = s.getOutputStream();
    for (String p : payloads) {
      out.write(FrameEncoder.encode(p.getBytes(StandardCharsets.UTF_8)));
    }
    out.flush();
  }

  /** Reads until the collector closes the connection (EOF or a reset/alert). */
  private static void awaitClosedByPeer(Socket s) {
    try (InputStream in = s.getInputStream()) {
      while (in.read() >= 0) {
        // the collector sends nothing on this port; drain until it closes
      }
    } catch (SSLException | SocketException e) {
      // an alert or a reset: closed as well
    } catch (IOException e) {
      throw new AssertionError("unexpected error while waiting for the close", e);
    }
  }

  @Test
  void tcpIngestOverTlsStoresRecordsAndRefusesPlaintext() throws Exception {
    try (CollectorFixture c = start("tcp: {host: 127.0.0.1, port: 0, tls: " + serverTls(false)
        + "}")) {
      int port = c.collector.tcpPort();
      try (CapturingProxy tap = new CapturingProxy("127.0.0.1", port);
          SSLSocket s = (SSLSocket) jdkTls(tls, null).getSocketFactory()
              .createSocket("127.0.0.1", tap.port())) {
        s.startHandshake();
        sendRecords(s, "first " + LINE, "second " + LINE);
        await().atMost(WAIT).until(() -> c.records().size() == 2);
        assertThat(c.records()).extracting(r -> r.get("payload").asText())
            .containsExactly("first " + LINE, "second " + LINE);
        assertThat(tap.sawText(LINE)).isFalse();
      }

      // plaintext records on the TLS port: the handshake fails, nothing is stored
      try (Socket plain = new Socket("127.0.0.1", port)) {
        plain.setSoTimeout((int) WAIT.toMillis());
        sendRecords(plain, "plaintext record");
        awaitClosedByPeer(plain);
      }
      await().atMost(WAIT).until(() -> c.collector.tcpCounters().tlsHandshakesFailed() == 1);
      assertThat(c.records()).hasSize(2);
      assertThat(c.collector.tcpCounters().connectionErrors()).isZero();
    }
  }

  @Test
  void tcpIngestWithClientCaRefusesAClientWithoutACertificate() throws Exception {
    try (CollectorFixture c = start("tcp: {host: 127.0.0.1, port: 0, tls: " + serverTls(true)
        + "}")) {
      int port = c.collector.tcpPort();
      try (SSLSocket s = (SSLSocket) jdkTls(tls, "agent1").getSocketFactory()
          .createSocket("127.0.0.1", port)) {
        sendRecords(s, "with a certificate");
        await().atMost(WAIT).until(() -> c.records().size() == 1);
      }
      try (SSLSocket s = (SSLSocket) jdkTls(tls, null).getSocketFactory()
          .createSocket("127.0.0.1", port)) {
        s.setSoTimeout((int) WAIT.toMillis());
        try {
          // TLS 1.3: the client may finish its side before the server refuses it
          s.startHandshake();
          sendRecords(s, "without a certificate");
        } catch (SSLException | SocketException e) {
          // refused during the handshake
        }
        awaitClosedByPeer(s);
      }
      await().atMost(WAIT).until(() -> c.collector.tcpCounters().tlsHandshakesFailed() == 1);
      assertThat(c.records()).extracting(r -> r.get("payload").asText())
          .containsExactly("with a certificate");
    }
  }

  @Test
  void theConfigFileKeysAreNeverLoggedNorShownInTheReadyLine() throws Exception {
    String keyText = Files.readString(tls.resolve(TlsInit.SERVER_KEY));
    String mode = CollectorMain.tlsMode(new dev.rlog.common.tls.TlsFiles(
        tls.resolve(TlsInit.SERVER_CERT), tls.resolve(TlsInit.SERVER_KEY),
        tls.resolve(TlsInit.CA_CERT)));
    assertThat(mode).contains("server.pem").contains("client certificates required")
        .doesNotContain("server-key.pem").doesNotContain(keyText.substring(40, 70));
  }
}
