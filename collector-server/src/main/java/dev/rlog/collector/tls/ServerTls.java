package dev.rlog.collector.tls;

import dev.rlog.common.tls.PemException;
import dev.rlog.common.tls.PemFiles;
import dev.rlog.common.tls.TlsFiles;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import java.io.IOException;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;

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
  private ServerTls() {}

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
