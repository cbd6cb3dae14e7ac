package dev.rlog.collector;

import static dev.rlog.collector.GrpcIngestIntegrationTest.batch;
import static dev.rlog.collector.GrpcIngestIntegrationTest.send;
import static dev.rlog.collector.GrpcIngestIntegrationTest.statusOf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.Empty;
import dev.rlog.collector.store.WriteGate;
import dev.rlog.common.time.Clock;
import dev.rlog.common.time.FakeClock;
import dev.rlog.proto.auth.AuthServiceGrpc;
import dev.rlog.proto.auth.RefreshRequest;
import dev.rlog.proto.auth.RegisterResponse;
import dev.rlog.proto.health.HealthServiceGrpc;
import dev.rlog.proto.health.HeartbeatRequest;
import dev.rlog.proto.log.LogBatch;
import dev.rlog.proto.log.LogServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Agent identity against a real collector over loopback: a holder of the project key cannot take
 * over another agent's uuid (nor suppress its lines), an original agent keeps working, and an
 * open Send stream ends once its token expires or its agent is revoked.
 */
class AgentIdentityIntegrationTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final String SECRET = "victim-secret-0123456789abcdefghijklmnop";

  @TempDir Path dir;

  /** A Send call kept open: batches go out one by one, the call completes only on finish(). */
  private static final class OpenStream {
    final CompletableFuture<Empty> done = new CompletableFuture<>();
    final StreamObserver<LogBatch> requests;

    OpenStream(LogServiceGrpc.LogServiceStub stub) {
      requests = stub.send(new StreamObserver<>() {
        Empty got;

        @Override
        public void onNext(Empty value) {
          got = value;
        }

        @Override
        public void onError(Throwable t) {
          done.completeExceptionally(t);
        }

        @Override
        public void onCompleted() {
          done.complete(got);
        }
      });
    }
  }

  private static List<String> linesOf(List<JsonNode> recs, String agent) {
    return recs.stream().filter(r -> r.get("agent").asText().equals(agent))
        .map(r -> r.get("line").asText()).toList();
  }

  private static LogServiceGrpc.LogServiceStub logs(ManagedChannel ch, String access) {
    return CollectorFixture.withToken(LogServiceGrpc.newStub(ch), access);
  }

  @Test
  void theProjectKeyAndAVictimsUuidGetAFreshUuidThatCannotSuppressTheVictimsLines()
      throws Exception {
    try (CollectorFixture c = CollectorFixture.start(dir)) {
      String key = c.createProject("web");
      ManagedChannel victimCh = c.channel();
      ManagedChannel thiefCh = c.channel();
      RegisterResponse victim = c.register(victimCh, key, "victim", null, SECRET);
      String uuid = victim.getAgentUuid();
      send(logs(victimCh, victim.getAccessToken()), batch("inode-7", 0, "v1", "v2"))
          .get(30, TimeUnit.SECONDS);

      RegisterResponse noSecret = c.register(thiefCh, key, "thief", uuid, null);
      RegisterResponse wrongSecret =
          c.register(thiefCh, key, "thief", uuid, "not-the-victims-secret-0123456789");
      assertThat(noSecret.getAgentUuid()).isNotEqualTo(uuid);
      assertThat(wrongSecret.getAgentUuid()).isNotIn(uuid, noSecret.getAgentUuid());
      assertThat(c.collector.agents().identityRefusals()).isEqualTo(2);

      // The thief sends the victim's file instance with a huge offset, under its own uuid.
      send(logs(thiefCh, noSecret.getAccessToken()), batch("inode-7", 1L << 60, "evil"))
          .get(30, TimeUnit.SECONDS);

      // The victim's token was not revoked by any of that; its later lines are all stored.
      send(logs(victimCh, victim.getAccessToken()), batch("inode-7", 6, "v3", "v4"))
          .get(30, TimeUnit.SECONDS);
      RegisterResponse again = c.register(victimCh, key, "victim", uuid, SECRET);
      assertThat(again.getAgentUuid()).isEqualTo(uuid);
      send(logs(victimCh, again.getAccessToken()), batch("inode-7", 12, "v5"))
          .get(30, TimeUnit.SECONDS);

      List<JsonNode> recs = c.records();
      assertThat(linesOf(recs, uuid)).containsExactly("v1", "v2", "v3", "v4", "v5");
      assertThat(linesOf(recs, noSecret.getAgentUuid())).containsExactly("evil");
      assertThat(recs.stream().filter(r -> r.get("agent").asText().equals(uuid))
          .map(r -> r.get("host").asText())).containsOnly("victim");
    }
  }

  @Test
  void anOriginalWireClientRegistersKeepsItsUuidStreamsGzipAndHeartbeats() throws Exception {
    try (CollectorFixture c = CollectorFixture.start(dir)) {
      String key = c.createProject("web");
      ManagedChannel ch = c.channel();
      // No agent_secret, no position fields: exactly what the original rlog-agent sends.
      RegisterResponse first = c.register(ch, key, "old-host");
      RegisterResponse again = c.register(ch, key, "old-host", first.getAgentUuid(), null);
      assertThat(again.getAgentUuid()).isEqualTo(first.getAgentUuid());
      assertThat(c.collector.agents().find(first.getAgentUuid()).orElseThrow().hasSecret())
          .isFalse();

      var gzip = logs(ch, again.getAccessToken()).withCompression("gzip");
      send(gzip, batch(null, 0, "a", "b"), batch(null, 0, "c")).get(30, TimeUnit.SECONDS);
      CollectorFixture.withToken(HealthServiceGrpc.newBlockingStub(ch), again.getAccessToken())
          .withDeadlineAfter(10, TimeUnit.SECONDS).withCompression("gzip")
          .heartbeat(HeartbeatRequest.newBuilder().setCpu(3).setMemory(4).build());

      var refreshed = AuthServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
          .refresh(RefreshRequest.newBuilder().setRefreshToken(again.getRefreshToken()).build());
      send(logs(ch, refreshed.getAccessToken()), batch(null, 0, "d")).get(30, TimeUnit.SECONDS);

      assertThat(linesOf(c.records(), first.getAgentUuid())).containsExactly("a", "b", "c", "d");
      assertThat(c.collector.agents().find(first.getAgentUuid()).orElseThrow().cpu())
          .isEqualTo(3.0);
    }
  }

  @Test
  void reRegisteringAnAgentClosesItsOpenStreamAndTheResendStoresNothingTwice() throws Exception {
    try (CollectorFixture c = new CollectorFixture(dir, "auth: {stream_recheck_interval: 50ms}",
        Clock.system(), WriteGate.OPEN)) {
      String key = c.createProject("web");
      ManagedChannel ch = c.channel();
      RegisterResponse reg = c.register(ch, key, "h", null, SECRET);
      OpenStream stream = new OpenStream(logs(ch, reg.getAccessToken()));
      LogBatch inFlight = batch("f1", 0, "one", "two");
      stream.requests.onNext(inFlight);
      await().atMost(WAIT).until(() -> c.collector.grpcCounters().records() == 2);

      // A new registration of the agent starts a new token generation: the old stream must end.
      RegisterResponse renewed = c.register(ch, key, "h", reg.getAgentUuid(), SECRET);

      Status status = statusOf(stream.done);
      assertThat(status.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
      assertThat(status.getDescription()).isEqualTo("access token revoked");
      assertThat(c.collector.grpcCounters().streamsClosedUnauthenticated()).isEqualTo(1);

      // What the agent does: send the unacknowledged batch again with the new token.
      send(logs(ch, renewed.getAccessToken()), inFlight, batch("f1", 8, "three"))
          .get(30, TimeUnit.SECONDS);
      assertThat(linesOf(c.records(), reg.getAgentUuid())).containsExactly("one", "two", "three");
    }
  }

  @Test
  void anOpenStreamWhoseTokenExpiredIsClosedAtItsNextMessage() throws Exception {
    FakeClock clock = new FakeClock(System.currentTimeMillis());
    // The timer is far away: this is the per-message check.
    try (CollectorFixture c = new CollectorFixture(dir,
        "auth: {access_token_ttl: 60s, stream_recheck_interval: 5m}", clock, WriteGate.OPEN)) {
      ManagedChannel ch = c.channel();
      RegisterResponse reg = c.register(ch, c.createProject("web"), "h", null, SECRET);
      OpenStream stream = new OpenStream(logs(ch, reg.getAccessToken()));
      stream.requests.onNext(batch("f1", 0, "before"));
      await().atMost(WAIT).until(() -> c.collector.grpcCounters().records() == 1);

      clock.advance(Duration.ofSeconds(61));
      stream.requests.onNext(batch("f1", 7, "after expiry"));

      Status status = statusOf(stream.done);
      assertThat(status.getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
      assertThat(status.getDescription()).isEqualTo("access token expired");
      await().atMost(WAIT).until(() -> c.records().size() == 1);
      assertThat(linesOf(c.records(), reg.getAgentUuid())).containsExactly("before");
    }
  }

  @Test
  void theTimerClosesAnIdleStreamWhoseTokenExpired() throws Exception {
    FakeClock clock = new FakeClock(System.currentTimeMillis());
    try (CollectorFixture c = new CollectorFixture(dir,
        "auth: {access_token_ttl: 60s, stream_recheck_interval: 50ms}", clock, WriteGate.OPEN)) {
      ManagedChannel ch = c.channel();
      RegisterResponse reg = c.register(ch, c.createProject("web"), "h", null, SECRET);
      OpenStream stream = new OpenStream(logs(ch, reg.getAccessToken()));
      stream.requests.onNext(batch("f1", 0, "only"));
      await().atMost(WAIT).until(() -> c.collector.grpcCounters().records() == 1);
      assertThat(stream.done).isNotDone();

      clock.advance(Duration.ofSeconds(61)); // no message follows: only the timer can see it

      assertThat(statusOf(stream.done).getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    }
  }
}
