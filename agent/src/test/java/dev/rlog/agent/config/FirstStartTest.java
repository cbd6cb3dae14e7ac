package dev.rlog.agent.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.agent.auth.HostInfo;
import dev.rlog.common.config.ConfigException;
import dev.rlog.proto.auth.AuthServiceGrpc;
import dev.rlog.proto.auth.RegisterRequest;
import dev.rlog.proto.auth.RegisterResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FirstStartTest {
  private static final HostInfo HOST = new HostInfo("host-a", "Linux", "6.1");
  private static final Map<String, String> ENV =
      Map.of("SERVER_ADDR", "collector.test:50051", "PROJECT_KEY", "pk_test_secret");

  @TempDir
  Path dir;

  private final FakeAuth auth = new FakeAuth();
  private final List<ServerAddress> dialed = new CopyOnWriteArrayList<>();
  private String serverName;
  private Server server;
  private Path configFile;
  private AgentState state;

  /** A collector AuthService that answers Register like the real one, or fails on demand. */
  static final class FakeAuth extends AuthServiceGrpc.AuthServiceImplBase {
    final List<RegisterRequest> registers = new CopyOnWriteArrayList<>();
    volatile Status failWith;
    volatile long batchSize = 500;
    volatile long flushSec = 5;

    @Override
    public void register(RegisterRequest req, StreamObserver<RegisterResponse> out) {
      registers.add(req);
      if (failWith != null) {
        out.onError(failWith.asRuntimeException());
        return;
      }
      out.onNext(RegisterResponse.newBuilder()
          .setSuccess(true)
          .setAgentUuid(req.hasAgentUuid() ? req.getAgentUuid() : "11111111-2222-4333-8444-555555555555")
          .setAccessToken("access-1")
          .setRefreshToken("rlr_refresh-1")
          .setTimezone("UTC")
          .setBatchSize(batchSize)
          .setFlushIntervalSec(flushSec)
          .addSources(RegisterResponse.Source.newBuilder().setLabel("app").setPath("/var/log/app/*.log").setEnabled(true))
          .addSources(RegisterResponse.Source.newBuilder().setLabel("old").setPath("/var/log/old.log").setEnabled(false))
          .addSources(RegisterResponse.Source.newBuilder().setLabel("sys").setPath("/var/log/syslog").setEnabled(true))
          .build());
      out.onCompleted();
    }
  }

  @BeforeEach
  void setUp() throws Exception {
    serverName = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(serverName).directExecutor().addService(auth).build().start();
    configFile = dir.resolve("config/agent.yaml");
    state = new AgentState(dir.resolve("state"));
  }

  @AfterEach
  void tearDown() {
    server.shutdownNow();
  }

  private FirstStart firstStart(Map<String, String> env) {
    return new FirstStart(configFile, state, env, addr -> {
      dialed.add(addr);
      ManagedChannel ch = InProcessChannelBuilder.forName(serverName).directExecutor().build();
      return ch;
    }, HOST, Duration.ofSeconds(5));
  }

  @Test
  void firstStartRegistersThenWritesConfigAndStateWithMode0600() throws Exception {
    FirstStart.Result r = firstStart(ENV).run();

    assertThat(r.registered()).isTrue();
    assertThat(r.accessToken()).isEqualTo("access-1");
    assertThat(r.toString()).doesNotContain("access-1").doesNotContain("pk_test_secret");
    assertThat(dialed).containsExactly(new ServerAddress("collector.test", 50051));

    RegisterRequest req = auth.registers.get(0);
    assertThat(req.getProjectKey()).isEqualTo("pk_test_secret");
    assertThat(req.getHostname()).isEqualTo("host-a");
    assertThat(req.getOs()).isEqualTo("Linux");
    assertThat(req.getOsVersion()).isEqualTo("6.1");
    assertThat(req.hasAgentUuid()).isFalse();
    assertThat(req.getAgentSecret()).hasSize(43)
        .isEqualTo(Files.readString(state.secretFile()).strip());

    AgentConfig c = AgentConfig.load(configFile);
    assertThat(c).isEqualTo(r.config());
    assertThat(c.serverAddr()).hasToString("collector.test:50051");
    assertThat(c.projectKey()).isEqualTo("pk_test_secret");
    assertThat(c.batchSize()).isEqualTo(500);
    assertThat(c.flushInterval()).isEqualTo(Duration.ofSeconds(5));
    assertThat(c.heartbeatInterval()).isEqualTo(Duration.ofSeconds(30));
    assertThat(c.sources()).containsExactly(
        new AgentConfig.Source("app", "/var/log/app/*.log"),
        new AgentConfig.Source("sys", "/var/log/syslog"));
    assertThat(Files.readString(configFile)).contains("heartbeat_interval: 30");

    assertThat(Files.readString(state.agentUuidFile()).strip())
        .isEqualTo("11111111-2222-4333-8444-555555555555");
    assertThat(Files.readString(state.tokenFile()).strip()).isEqualTo("rlr_refresh-1");
    for (Path f : List.of(configFile, state.agentUuidFile(), state.tokenFile(),
        state.secretFile())) {
      assertThat(Files.getPosixFilePermissions(f)).as(f.toString())
          .isEqualTo(PosixFilePermissions.fromString("rw-------"));
    }
  }

  @Test
  void laterStartsNeedNoEnvironmentAndDoNotRegister() throws Exception {
    AgentConfig first = firstStart(ENV).run().config();

    FirstStart.Result again = firstStart(Map.of()).run();

    assertThat(again.registered()).isFalse();
    assertThat(again.accessToken()).isNull();
    assertThat(again.config()).isEqualTo(first);
    assertThat(auth.registers).hasSize(1);
    assertThat(dialed).hasSize(1);
  }

  @Test
  void missingEnvironmentNamesBothVariablesAndWritesNothing() {
    FirstStartException e = assertThrows(FirstStartException.class, () -> firstStart(Map.of()).run());
    assertThat(e.getMessage()).contains("SERVER_ADDR").contains("PROJECT_KEY")
        .contains(configFile.toString());
    assertThat(e.retryable()).isFalse();

    FirstStartException onlyKey = assertThrows(FirstStartException.class,
        () -> firstStart(Map.of("SERVER_ADDR", "c:1", "PROJECT_KEY", " ")).run());
    assertThat(onlyKey.getMessage()).contains("PROJECT_KEY is not set");

    assertThat(auth.registers).isEmpty();
    assertThat(configFile).doesNotExist();
    assertThat(state.dir()).doesNotExist();
  }

  @Test
  void badServerAddrNamesTheVariable() {
    FirstStartException e = assertThrows(FirstStartException.class,
        () -> firstStart(Map.of("SERVER_ADDR", "collector", "PROJECT_KEY", "k")).run());
    assertThat(e.getMessage()).startsWith("SERVER_ADDR");
    assertThat(dialed).isEmpty();
  }

  @Test
  void badExistingConfigNamesTheFileAndTheKey() throws Exception {
    Files.createDirectories(configFile.getParent());
    Files.writeString(configFile, "server_addr: c:1\nproject_key: k\nbatch_size: -5\n");
    ConfigException e = assertThrows(ConfigException.class, () -> firstStart(ENV).run());
    assertThat(e.file()).isEqualTo(configFile.toString());
    assertThat(e.key()).isEqualTo("batch_size");
    assertThat(e.getMessage()).contains(configFile.toString()).contains("batch_size");

    Files.writeString(configFile, "server_addr: c:1\nproject_key: k\nflush_intervall: 5\n");
    assertThat(assertThrows(ConfigException.class, () -> firstStart(ENV).run()).key())
        .isEqualTo("flush_intervall");
    assertThat(auth.registers).as("an existing config never registers").isEmpty();
  }

  @Test
  void refusedProjectKeyIsFatalAndLeavesNoFiles() {
    auth.failWith = Status.UNAUTHENTICATED.withDescription("invalid project key");
    FirstStartException e = assertThrows(FirstStartException.class, () -> firstStart(ENV).run());
    assertThat(e.retryable()).isFalse();
    assertThat(e.getMessage()).contains("PROJECT_KEY").contains("invalid project key")
        .doesNotContain("pk_test_secret");
    assertThat(configFile).doesNotExist();
    assertThat(state.tokenFile()).doesNotExist();
  }

  @Test
  void unreachableCollectorIsRetryable() {
    auth.failWith = Status.UNAVAILABLE.withDescription("connection refused");
    FirstStartException e = assertThrows(FirstStartException.class, () -> firstStart(ENV).run());
    assertThat(e.retryable()).isTrue();
    assertThat(e.getMessage()).contains("collector.test:50051").contains("UNAVAILABLE");
    assertThat(configFile).doesNotExist();
  }

  @Test
  void retryAfterACrashBeforeTheConfigWasWrittenKeepsTheUuid() throws Exception {
    state.writeAgentUuid("99999999-2222-4333-8444-555555555555");
    firstStart(ENV).run();
    assertThat(auth.registers.get(0).getAgentUuid()).isEqualTo("99999999-2222-4333-8444-555555555555");
    assertThat(state.readAgentUuid()).contains("99999999-2222-4333-8444-555555555555");
  }

  @Test
  void collectorWithoutSettingsGetsDefaults() throws Exception {
    auth.batchSize = 0;
    auth.flushSec = 0;
    AgentConfig c = firstStart(ENV).run().config();
    assertThat(c.batchSize()).isEqualTo(AgentConfig.DEFAULT_BATCH_SIZE);
    assertThat(c.flushInterval()).isEqualTo(AgentConfig.DEFAULT_FLUSH_INTERVAL);
  }

  @Test
  void unusableSettingsFromTheCollectorLeaveNoFiles() {
    auth.batchSize = -1; // uint64 max on the wire
    FirstStartException e = assertThrows(FirstStartException.class, () -> firstStart(ENV).run());
    assertThat(e.getMessage()).contains("batch_size").contains("18446744073709551615");
    assertThat(configFile).doesNotExist();
    assertThat(state.tokenFile()).doesNotExist();
  }
}
