package dev.rlog.agent.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.agent.config.AgentState;
import dev.rlog.common.time.FakeClock;
import dev.rlog.proto.health.HealthServiceGrpc;
import dev.rlog.proto.health.HeartbeatRequest;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenManagerTest {
  private static final String UUID = "0b8f6a7e-1111-4222-8333-444455556666";
  private static final HostInfo HOST = new HostInfo("host-a", "Linux", "6.1");

  @TempDir
  Path dir;

  private final FakeClock clock = new FakeClock();
  private final AtomicReference<TokenManager> current = new AtomicReference<>();
  private FakeCollector collector;
  private ManagedChannel raw;
  private Channel channel;
  private AgentState state;

  @BeforeEach
  void setUp() throws Exception {
    collector = new FakeCollector();
    raw = InProcessChannelBuilder.forName(collector.name).directExecutor().build();
    channel = ClientInterceptors.intercept(raw, new BearerTokenInterceptor(
        () -> current.get() == null ? null : current.get().currentAccessToken()));
    state = new AgentState(dir.resolve("state"));
  }

  @AfterEach
  void tearDown() {
    raw.shutdownNow();
    collector.close();
  }

  private TokenManager open(String initialAccess, Duration deadline) throws Exception {
    TokenManager tm = TokenManager.open(channel, state, FakeCollector.PROJECT_KEY, HOST, clock,
        deadline, initialAccess);
    current.set(tm);
    return tm;
  }

  private TokenManager open() throws Exception {
    return open(null, TokenManager.DEFAULT_DEADLINE);
  }

  private void heartbeat(String token) {
    HealthServiceGrpc.newBlockingStub(channel)
        .withDeadlineAfter(5, TimeUnit.SECONDS)
        .withOption(BearerTokenInterceptor.ACCESS_TOKEN, token)
        .heartbeat(HeartbeatRequest.getDefaultInstance());
  }

  private void assertTokenFile(String expected) throws Exception {
    assertThat(Files.readString(state.tokenFile()).strip()).isEqualTo(expected);
    assertThat(Files.getPosixFilePermissions(state.tokenFile()))
        .isEqualTo(PosixFilePermissions.fromString("rw-------"));
  }

  @Test
  void refreshPathRenewsAnExpiredTokenAndPersistsTheRotatedRefreshToken() throws Exception {
    collector.seedAgent(UUID, "rlr_seed");
    state.writeAgentUuid(UUID);
    state.writeRefreshToken("rlr_seed");
    TokenManager tm = open();

    String first = tm.accessToken(); // none held after a restart: obtained by Refresh
    heartbeat(first);
    assertThat(collector.refreshCalls).hasValue(1);
    assertTokenFile(collector.currentRefreshOf(UUID));

    collector.expireAccessTokens();
    clock.advance(Duration.ofMinutes(15));
    StatusRuntimeException refused = assertThrows(StatusRuntimeException.class, () -> heartbeat(first));
    assertThat(refused.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);

    String second = tm.onUnauthenticated(first);
    assertThat(second).isNotEqualTo(first);
    heartbeat(second);

    assertThat(collector.refreshCalls).hasValue(2);
    assertThat(collector.registerCalls).hasValue(0);
    assertThat(tm.refreshCount()).isEqualTo(2);
    assertTokenFile(collector.currentRefreshOf(UUID));
    assertThat(state.readAgentUuid()).contains(UUID);
    assertThat(collector.heartbeats).hasValue(2);
  }

  @Test
  void anUpgradedStateWithAUuidButNoSecretGetsOneAndSendsItOnEveryRegister() throws Exception {
    collector.seedAgent(UUID, "rlr_seed");
    state.writeAgentUuid(UUID);
    state.writeRefreshToken("rlr_the_collector_never_issued");
    assertThat(state.secretFile()).doesNotExist();

    TokenManager tm = open();
    String secret = Files.readString(state.secretFile()).strip();
    assertThat(secret).hasSize(43);
    assertThat(Files.getPosixFilePermissions(state.secretFile()))
        .isEqualTo(PosixFilePermissions.fromString("rw-------"));
    assertThat(tm.toString()).doesNotContain(secret);

    heartbeat(tm.accessToken());
    state.writeRefreshToken("rlr_refused_again");
    TokenManager restarted = open();
    heartbeat(restarted.accessToken());

    assertThat(collector.registerRequests).hasSize(2).allSatisfy(r -> {
      assertThat(r.getAgentUuid()).isEqualTo(UUID);
      assertThat(r.getAgentSecret()).isEqualTo(secret);
    });
  }

  @Test
  void refusedRefreshRegistersAgainKeepingTheUuid() throws Exception {
    collector.seedAgent(UUID, "rlr_seed");
    state.writeAgentUuid(UUID);
    state.writeRefreshToken("rlr_the_collector_never_issued");
    TokenManager tm = open();

    String token = tm.onUnauthenticated(null);
    heartbeat(token);

    assertThat(collector.refreshCalls).hasValue(1);
    assertThat(collector.registerCalls).hasValue(1);
    assertThat(collector.registerRequests.get(0).getAgentUuid()).isEqualTo(UUID);
    assertThat(collector.registerRequests.get(0).getProjectKey()).isEqualTo(FakeCollector.PROJECT_KEY);
    assertThat(collector.registerRequests.get(0).getHostname()).isEqualTo("host-a");
    assertThat(collector.knownAgents()).containsExactly(UUID);
    assertThat(state.readAgentUuid()).contains(UUID);
    assertTokenFile(collector.currentRefreshOf(UUID));
    assertThat(tm.registrationCount()).isEqualTo(1);
  }

  @Test
  void aRetiredTokenOnDiskRevokesThenRegisterRestoresTheAgent() throws Exception {
    // A crash after the collector rotated the token but before the agent saved the new one.
    collector.seedAgent(UUID, "rlr_seed");
    collector.rotateBehindTheAgentsBack(UUID);
    state.writeAgentUuid(UUID);
    state.writeRefreshToken("rlr_seed");
    TokenManager tm = open();

    heartbeat(tm.accessToken());

    assertThat(collector.registerRequests).singleElement()
        .satisfies(r -> assertThat(r.getAgentUuid()).isEqualTo(UUID));
    assertTokenFile(collector.currentRefreshOf(UUID));
  }

  @Test
  void concurrentCallersShareOneRefresh() throws Exception {
    collector.seedAgent(UUID, "rlr_seed");
    state.writeAgentUuid(UUID);
    state.writeRefreshToken("rlr_seed");
    TokenManager tm = open("acc-stale", TokenManager.DEFAULT_DEADLINE);
    clock.advance(Duration.ofMinutes(15));
    CountDownLatch gate = new CountDownLatch(1);
    collector.refreshGate = gate;

    ExecutorService pool = Executors.newFixedThreadPool(2, r -> new Thread(r, "caller"));
    try {
      Future<String> a = pool.submit(() -> tm.onUnauthenticated("acc-stale"));
      assertThat(collector.refreshEntered.await(5, TimeUnit.SECONDS)).isTrue();
      AtomicReference<Thread> bThread = new AtomicReference<>();
      Future<String> b = pool.submit(() -> {
        bThread.set(Thread.currentThread());
        return tm.onUnauthenticated("acc-stale");
      });
      // B must end up waiting for A's renewal; a second Refresh would show up in the count.
      await().atMost(Duration.ofSeconds(5)).until(() -> collector.refreshCalls.get() > 1
          || (bThread.get() != null && bThread.get().getState() == Thread.State.WAITING));
      gate.countDown();

      String ta = a.get(5, TimeUnit.SECONDS);
      String tb = b.get(5, TimeUnit.SECONDS);
      assertThat(collector.refreshCalls).hasValue(1);
      assertThat(ta).isEqualTo(tb).isEqualTo(tm.currentAccessToken());
      heartbeat(ta);
    } finally {
      gate.countDown();
      pool.shutdownNow();
    }
    assertThat(collector.registerCalls).as("no theft detected, no re-registration").hasValue(0);
  }

  @Test
  void aCallerWhoseTokenWasAlreadyReplacedGetsTheNewOneWithoutACall() throws Exception {
    collector.seedAgent(UUID, "rlr_seed");
    state.writeAgentUuid(UUID);
    state.writeRefreshToken("rlr_seed");
    TokenManager tm = open("acc-old", TokenManager.DEFAULT_DEADLINE);
    clock.advance(Duration.ofMinutes(15));
    String fresh = tm.onUnauthenticated("acc-old");

    assertThat(tm.onUnauthenticated("acc-old")).isEqualTo(fresh);
    assertThat(tm.accessToken()).isEqualTo(fresh);
    assertThat(collector.refreshCalls).hasValue(1);
  }

  @Test
  void unavailablePropagatesAndChangesNothing() throws Exception {
    collector.seedAgent(UUID, "rlr_seed");
    state.writeAgentUuid(UUID);
    state.writeRefreshToken("rlr_seed");
    TokenManager tm = open();
    collector.refreshFailsWith = Status.UNAVAILABLE.withDescription("collector restarting");

    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, tm::accessToken);
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(collector.registerCalls).as("not a reason to register").hasValue(0);
    assertThat(tm.currentAccessToken()).isNull();
    assertThat(tm.failedRenewalCount()).isEqualTo(1);
    assertTokenFile("rlr_seed");

    collector.refreshFailsWith = null;
    heartbeat(tm.accessToken());
    assertThat(collector.refreshCalls).hasValue(2);
  }

  @Test
  void everyCallHasADeadline() throws Exception {
    collector.seedAgent(UUID, "rlr_seed");
    state.writeAgentUuid(UUID);
    state.writeRefreshToken("rlr_seed");
    TokenManager tm = open(null, Duration.ofMillis(200));
    collector.refreshHangs = true;

    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, tm::accessToken);
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
  }

  @Test
  void aFreshTokenRefusedAgainAtOnceMakesCallersBackOff() throws Exception {
    collector.seedAgent(UUID, "rlr_seed");
    state.writeAgentUuid(UUID);
    state.writeRefreshToken("rlr_seed");
    TokenManager tm = open();
    String token = tm.accessToken();

    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> tm.onUnauthenticated(token));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(collector.refreshCalls).hasValue(1);

    clock.advance(TokenManager.MIN_RENEW_INTERVAL);
    assertThat(tm.onUnauthenticated(token)).isNotEqualTo(token);
    assertThat(collector.refreshCalls).hasValue(2);
  }

  @Test
  void aTokenThatCannotBeSavedIsKeptInMemoryAndTheAccessTokenWithheld() throws Exception {
    collector.seedAgent(UUID, "rlr_seed");
    state.writeAgentUuid(UUID);
    state.writeRefreshToken("rlr_seed");
    TokenManager tm = open();
    // Make the atomic rename onto state/token fail: a non-empty directory is in the way.
    Files.delete(state.tokenFile());
    Files.createDirectories(state.tokenFile().resolve("blocker"));

    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, tm::accessToken);
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(e.getStatus().getDescription()).contains(state.tokenFile().toString());
    assertThat(tm.currentAccessToken()).as("not handed out before it is saved").isNull();

    Files.delete(state.tokenFile().resolve("blocker"));
    Files.delete(state.tokenFile());
    heartbeat(tm.accessToken());
    // The second renewal presented the rotated token it kept in memory: no theft, no register.
    assertThat(collector.refreshCalls).hasValue(2);
    assertThat(collector.registerCalls).hasValue(0);
    assertTokenFile(collector.currentRefreshOf(UUID));
  }

  @Test
  void noStoredTokenRegistersAndAnUnknownUuidIsReplacedAndSaved() throws Exception {
    state.writeAgentUuid("ffffffff-1111-4222-8333-444455556666"); // the collector lost it
    TokenManager tm = open();

    heartbeat(tm.accessToken());

    assertThat(collector.refreshCalls).hasValue(0);
    assertThat(collector.registerCalls).hasValue(1);
    String assigned = collector.knownAgents().iterator().next();
    assertThat(state.readAgentUuid()).contains(assigned);
    assertTokenFile(collector.currentRefreshOf(assigned));
  }

  @Test
  void aRefusedProjectKeyPropagates() throws Exception {
    TokenManager tm = TokenManager.open(channel, state, "pk_wrong", HOST, clock,
        TokenManager.DEFAULT_DEADLINE, null);
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, tm::accessToken);
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(state.tokenFile()).doesNotExist();
  }

  @Test
  void interceptorAttachesTheTokenEverywhereButRegisterAndRefresh() throws Exception {
    collector.seedAgent(UUID, "rlr_seed");
    state.writeAgentUuid(UUID);
    state.writeRefreshToken("rlr_wrong"); // forces Refresh, then Register
    TokenManager tm = open("acc-initial", TokenManager.DEFAULT_DEADLINE);
    clock.advance(Duration.ofMinutes(1));

    String fresh = tm.onUnauthenticated("acc-initial");
    HealthServiceGrpc.newBlockingStub(channel).heartbeat(HeartbeatRequest.getDefaultInstance());

    assertThat(collector.seenAuthorization).containsExactly(
        "auth.AuthService/Refresh=",
        "auth.AuthService/Register=",
        "health.HealthService/Heartbeat=Bearer " + fresh);
  }

  @Test
  void toStringRevealsNoToken() throws Exception {
    state.writeRefreshToken("rlr_secret");
    TokenManager tm = open("acc-secret", TokenManager.DEFAULT_DEADLINE);
    assertThat(tm.toString()).doesNotContain("secret");
  }
}
