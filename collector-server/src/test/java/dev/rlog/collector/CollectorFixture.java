package dev.rlog.collector;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.rlog.collector.config.CollectorConfig;
import dev.rlog.collector.store.WriteGate;
import dev.rlog.common.config.YamlConfig;
import dev.rlog.common.time.Clock;
import dev.rlog.proto.auth.AuthServiceGrpc;
import dev.rlog.proto.auth.RegisterRequest;
import dev.rlog.proto.auth.RegisterResponse;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.AbstractStub;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real collector in this JVM on loopback ports chosen by the OS, with its store and state in
 * a test directory; plus the client plumbing the tests share. Close it in {@code finally} or
 * {@code @AfterEach}.
 */
final class CollectorFixture implements AutoCloseable {
  static final ObjectMapper JSON = new ObjectMapper();

  final Path dir;
  final CollectorConfig config;
  final Collector collector;
  private final List<ManagedChannel> channels = new ArrayList<>();

  CollectorFixture(Path dir, String extraYaml, Clock clock, WriteGate gate) throws Exception {
    this.dir = dir;
    String yaml = String.join("\n",
        "state_dir: " + dir.resolve("state"),
        extraYaml.contains("grpc:") ? "" : "grpc: {host: 127.0.0.1, port: 0}",
        extraYaml.contains("tcp:") ? "" : "tcp: {host: 127.0.0.1, port: 0}",
        "metrics: {enabled: false}",
        extraYaml.contains("store:") ? "" : "store: {dir: " + dir.resolve("data") + "}",
        extraYaml, "");
    this.config = CollectorConfig.fromYaml(YamlConfig.parse(dir.resolve("collector.yaml"), yaml));
    this.collector = new Collector(config, clock, gate);
    collector.start();
  }

  static CollectorFixture start(Path dir) throws Exception {
    return new CollectorFixture(dir, "", Clock.system(), WriteGate.OPEN);
  }

  ManagedChannel channel() {
    ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", collector.grpcPort())
        .usePlaintext().build();
    channels.add(ch);
    return ch;
  }

  /** A channel this fixture closes: {@code builder} is for this collector's gRPC port. */
  ManagedChannel channel(NettyChannelBuilder builder) {
    ManagedChannel ch = builder.build();
    channels.add(ch);
    return ch;
  }

  String createProject(String id) throws IOException {
    return collector.projects().create(id);
  }

  RegisterResponse register(ManagedChannel ch, String key, String host) {
    return register(ch, key, host, null, null);
  }

  /** Register naming {@code uuid} and carrying {@code secret}, each left out when null. */
  RegisterResponse register(ManagedChannel ch, String key, String host, String uuid,
      String secret) {
    RegisterRequest.Builder b = RegisterRequest.newBuilder().setProjectKey(key).setHostname(host)
        .setOs("linux").setOsVersion("6.1");
    if (uuid != null) {
      b.setAgentUuid(uuid);
    }
    if (secret != null) {
      b.setAgentSecret(secret);
    }
    return AuthServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
        .register(b.build());
  }

  static <S extends AbstractStub<S>> S withToken(S stub, String accessToken) {
    Metadata md = new Metadata();
    md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER),
        "Bearer " + accessToken);
    return stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
  }

  /** Every record in the store, in write order. */
  List<JsonNode> records() throws IOException {
    return records(config.storeDir());
  }

  static List<JsonNode> records(Path storeDir) throws IOException {
    List<JsonNode> out = new ArrayList<>();
    if (!Files.isDirectory(storeDir)) {
      return out;
    }
    List<Path> segs;
    try (Stream<Path> s = Files.list(storeDir)) {
      segs = s.filter(p -> p.getFileName().toString().endsWith(".jsonl")).sorted().toList();
    }
    for (Path seg : segs) {
      try (BufferedReader r = Files.newBufferedReader(seg)) {
        for (String line; (line = r.readLine()) != null; ) {
          out.add(JSON.readTree(line));
        }
      }
    }
    return out;
  }

  @Override
  public void close() throws Exception {
    for (ManagedChannel ch : channels) {
      ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    collector.shutdown().get(30, TimeUnit.SECONDS);
  }
}
