package dev.rlog.collector.tls;

import dev.rlog.common.tls.PemException;
import dev.rlog.common.tls.PemFiles;
import dev.rlog.common.tls.TlsFiles;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import java.io.IOException;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds the collector's TLS contexts from PEM files ({@link TlsFiles}: certificate chain, key,
 * optional client CA). With a client CA a client must present a certificate signed by it (mutual
 * TLS); without one any client may connect and is known by its token only.
 *
 * <p>Both listeners use the JDK's TLS implementation (Netty's {@code SslProvider.JDK}): no native
 * library, the same behaviour on every platform. The gRPC listener needs the shaded Netty that
 * grpc-netty-shaded carries, the TCP listener the plain Netty, hence two builders. Stateless.
 */
public final class ServerTls {
  private static final Logger log = LoggerFactory.getLogger(ServerTls.class);
  /** Warn this long before the server certificate expires. */
  static final Duration EXPIRY_WARNING = Duration.ofDays(30);

  private ServerTls() {}

  /**
   * Logs a WARN when the leaf certificate has expired or soon will: clients then refuse every
   * handshake, and the collector itself runs on unaware.
   */
  static void warnIfExpiring(TlsFiles files, X509Certificate leaf, Instant now) {
    Instant notAfter = leaf.getNotAfter().toInstant();
    if (!notAfter.isAfter(now)) {
      log.warn("TLS certificate {} expired at {}: clients will refuse to connect; replace it"
          + " (e.g. rlog-collector tls init) and restart", files.cert(), notAfter);
    } else if (notAfter.isBefore(now.plus(EXPIRY_WARNING))) {
      log.warn("TLS certificate {} expires at {}: replace it before then and restart",
          files.cert(), notAfter);
    }
  }

  /** The gRPC listener's context (HTTP/2 over TLS, ALPN {@code h2}). */
  public static io.grpc.netty.shaded.io.netty.handler.ssl.SslContext forGrpc(TlsFiles files)
      throws IOException {
    Material m = Material.load(files);
    var b = io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder
        .forServer(m.key(), m.chain());
    if (m.clientCa() != null) {
      b.trustManager(m.clientCa())
          .clientAuth(io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth.REQUIRE);
    }
    return GrpcSslContexts.configure(b,
        io.grpc.netty.shaded.io.netty.handler.ssl.SslProvider.JDK).build();
  }

  /** The raw TCP listener's context. */
  public static io.netty.handler.ssl.SslContext forTcp(TlsFiles files) throws IOException {
    Material m = Material.load(files);
    var b = io.netty.handler.ssl.SslContextBuilder.forServer(m.key(), m.chain())
        .sslProvider(io.netty.handler.ssl.SslProvider.JDK);
    if (m.clientCa() != null) {
      b.trustManager(m.clientCa()).clientAuth(io.netty.handler.ssl.ClientAuth.REQUIRE);
    }
    return b.build();
  }

  /** What the files hold; the config loader has checked them already, so errors are rare. */
  private record Material(PrivateKey key, X509Certificate[] chain, X509Certificate[] clientCa) {
    static Material load(TlsFiles files) throws IOException {
      try {
        List<X509Certificate> chain = PemFiles.readCertificates(files.cert());
        PrivateKey key = PemFiles.readPrivateKey(files.key());
        X509Certificate[] ca = files.ca() == null ? null
            : PemFiles.readCertificates(files.ca()).toArray(X509Certificate[]::new);
        warnIfExpiring(files, chain.get(0), Instant.now());
        return new Material(key, chain.toArray(X509Certificate[]::new), ca);
      } catch (PemException e) {
        throw new IOException(e.getMessage(), e);
      }
    }

    @Override
    public String toString() {
      return "Material[chain of " + chain.length + "]";
    }
  }
}
