package dev.rlog.agent.ship;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.agent.config.ServerAddress;
import dev.rlog.common.tls.CertificateAuthority;
import dev.rlog.common.tls.CertificateAuthority.Issued;
import dev.rlog.common.tls.TlsFiles;
import dev.rlog.proto.auth.AuthServiceGrpc;
import dev.rlog.proto.auth.RegisterRequest;
import dev.rlog.proto.auth.RegisterResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslProvider;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent's channels against a real TLS gRPC server on loopback that requires client certs. */
class CollectorChannelsTest {
  @TempDir Path dir;
  private Server server;
  private final List<ManagedChannel> channels = new ArrayList<>();
  private Path ca;
  private Path cert;
  private Path key;
  private Path otherCa;

  static final class Auth extends AuthServiceGrpc.AuthServiceImplBase {
    @Override
    public void register(RegisterRequest req, StreamObserver<RegisterResponse> out) {
      out.onNext(RegisterResponse.newBuilder().setSuccess(true).build());
      out.onCompleted();
    }
  }

  private Path write(String name, String text) throws IOException {
    return Files.writeString(dir.resolve(name), text);
  }

  @BeforeEach
  void start() throws Exception {
    Instant now = Instant.now();
    CertificateAuthority authority = CertificateAuthority.create("ca", now, Duration.ofDays(1));
    Issued srv = authority.issueServer(List.of("127.0.0.1"), now, Duration.ofDays(1));
    Issued client = authority.issueClient("agent", now, Duration.ofDays(1));
    ca = write("ca.pem", authority.ca().certificatePem());
    cert = write("client.pem", client.certificatePem());
    key = write("client-key.pem", client.keyPem());
    otherCa = write("other-ca.pem", CertificateAuthority.create("other", now, Duration.ofDays(1))
        .ca().certificatePem());
    SslContextBuilder ssl = GrpcSslContexts.configure(SslContextBuilder.forServer(
        srv.key(), srv.certificate()), SslProvider.JDK)
        .trustManager(authority.ca().certificate()).clientAuth(ClientAuth.REQUIRE);
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .sslContext(ssl.build()).addService(new Auth()).build().start();
  }

  @AfterEach
  void stop() throws Exception {
    for (ManagedChannel ch : channels) {
      ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  private RegisterResponse register(boolean tls, TlsFiles files) throws IOException {
    ManagedChannel ch = CollectorChannels.builder(
        new ServerAddress("127.0.0.1", server.getPort(), tls), files).build();
    channels.add(ch);
    return AuthServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
        .register(RegisterRequest.getDefaultInstance());
  }

  private void assertUnavailable(boolean tls, TlsFiles files) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> register(tls, files));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
  }

  @Test
  void httpsWithTheCaAndAClientCertificateGetsThrough() throws Exception {
    assertThat(register(true, new TlsFiles(cert, key, ca)).getSuccess()).isTrue();
  }

  @Test
  void everythingLessIsRefused() {
    assertUnavailable(false, null); // plaintext to a TLS port
    assertUnavailable(true, new TlsFiles(null, null, ca)); // no client certificate
    assertUnavailable(true, new TlsFiles(cert, key, otherCa)); // the server is not trusted
    assertUnavailable(true, null); // the system CAs do not know a private CA
  }

  @Test
  void tlsFilesWithAPlaintextAddressAreAProgrammingError() {
    assertThrows(IllegalArgumentException.class, () -> CollectorChannels.builder(
        new ServerAddress("127.0.0.1", 1, false), new TlsFiles(null, null, ca)));
  }
}
