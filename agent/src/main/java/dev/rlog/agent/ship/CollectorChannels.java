package dev.rlog.agent.ship;

import dev.rlog.agent.config.ServerAddress;
import dev.rlog.common.tls.PemException;
import dev.rlog.common.tls.PemFiles;
import dev.rlog.common.tls.TlsFiles;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;

/**
 * Channel builders to the collector. A plaintext address gets a plaintext channel; an {@code
 * https://} address gets TLS: the collector's certificate must chain to {@code tls.ca} (or, with
 * none, to the CAs the JDK trusts: its {@code cacerts}, the system's CA bundle on most
 * distributions) and name the host dialled; {@code tls.cert}/{@code tls.key} are presented when
 * the collector asks for a client certificate (mutual TLS).
 *
 * <p>TLS is the JDK's (Netty's {@code SslProvider.JDK}), never a native library. Stateless.
 */
public final class CollectorChannels {
  private CollectorChannels() {}

  /**
   * A builder for {@code server}, secured as its scheme says; the caller adds its own options.
   *
   * @param tls files for an https:// address; null for the defaults
   * @throws IOException if a TLS file cannot be read (the config loader checked them; they may
   *     have changed since)
   */
  public static NettyChannelBuilder builder(ServerAddress server, TlsFiles tls)
      throws IOException {
    NettyChannelBuilder b = NettyChannelBuilder.forAddress(server.host(), server.port());
    if (!server.tls()) {
      if (tls != null) {
        throw new IllegalArgumentException("TLS files given for plaintext address " + server);
      }
      return b.usePlaintext();
    }
    SslContextBuilder ssl = GrpcSslContexts.configure(SslContextBuilder.forClient(),
        SslProvider.JDK);
    try {
      if (tls != null && tls.ca() != null) {
        ssl.trustManager(PemFiles.readCertificates(tls.ca()).toArray(X509Certificate[]::new));
      }
      if (tls != null && tls.hasCertificate()) {
        PrivateKey key = PemFiles.readPrivateKey(tls.key());
        ssl.keyManager(key,
            PemFiles.readCertificates(tls.cert()).toArray(X509Certificate[]::new));
      }
    } catch (PemException e) {
      throw new IOException(e.getMessage(), e);
    }
    return b.sslContext(ssl.build()).useTransportSecurity();
  }
}
