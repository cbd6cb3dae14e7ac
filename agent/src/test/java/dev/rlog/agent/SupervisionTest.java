package dev.rlog.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.rlog.agent.auth.AccessTokens;
import dev.rlog.agent.batch.Batcher;
import dev.rlog.agent.config.AgentConfig;
import dev.rlog.agent.config.AgentState;
import dev.rlog.agent.config.ServerAddress;
import dev.rlog.agent.ship.LogTransport;
import dev.rlog.agent.ship.Shipper;
import dev.rlog.agent.ship.ShipperCounters;
import dev.rlog.agent.tail.LineBatch;
import dev.rlog.common.lifecycle.Service;
import dev.rlog.common.time.Clock;
import dev.rlog.common.time.FakeClock;
import io.grpc.Status;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A service thread that dies, or ends while the agent runs, makes the agent stop and exit 1; a
 * requested stop exits 0 even though every service thread ends. The bounded waits only keep a
 * broken build from hanging; nothing here waits for time to pass.
 */
class SupervisionTest {
  private static final Duration BOUND = Duration.ofSeconds(20);

  private volatile boolean stopping;
  private final Supervisor supervisor = new Supervisor(() -> stopping);

  /** An agent stand-in that records its shutdown. */
  private static final class RecordingService implements Service {
    final AtomicInteger shutdowns = new AtomicInteger();
    final Supplier<CompletableFuture<Void>> onShutdown;

    RecordingService(CompletableFuture<Void> done) {
      this(() -> done);
    }

    RecordingService(Supplier<CompletableFuture<Void>> onShutdown) {
      this.onShutdown = onShutdown;
    }

    @Override
    public void start() {}

    @Override
    public CompletableFuture<Void> shutdown() {
      shutdowns.incrementAndGet();
      return onShutdown.get();
    }
  }

  @Test
  void aServiceThatDiesIsAFailure() {
    CompletableFuture<Void> terminated = new CompletableFuture<>();
    supervisor.watch("rlog-ship", terminated);
    assertThat(supervisor.failure()).isNotDone();

    Error boom = new Error("boom");
    terminated.completeExceptionally(boom);

    ServiceFailure f = supervisor.failure().join();
    assertThat(f.service()).isEqualTo("rlog-ship");
    assertThat(f.cause()).isSameAs(boom);
  }

  @Test
  void aServiceThatEndsWhileTheAgentRunsIsAFailure() {
    CompletableFuture<Void> terminated = new CompletableFuture<>();
    supervisor.watch("rlog-heartbeat", terminated);

    terminated.complete(null);

    assertThat(supervisor.failure().join().service()).isEqualTo("rlog-heartbeat");
  }

  @Test
  void aServiceThatEndsDuringAStopIsNotButOneThatDiesThenIs() {
    CompletableFuture<Void> clean = new CompletableFuture<>();
    CompletableFuture<Void> dying = new CompletableFuture<>();
    supervisor.watch("clean", clean);
    supervisor.watch("dying", dying);
    stopping = true;

    clean.complete(null);
    assertThat(supervisor.failure()).isNotDone();
    dying.completeExceptionally(new IllegalStateException("final checkpoint failed"));
    assertThat(supervisor.failure().join().service()).isEqualTo("dying");
  }

  @Test
  void aFailureStopsTheAgentWithExitCodeOne() throws Exception {
    RecordingService agent = new RecordingService(CompletableFuture.completedFuture(null));
    CompletableFuture<Void> neverStopped = new CompletableFuture<>();
    CompletableFuture<ServiceFailure> failure = CompletableFuture.completedFuture(
        new ServiceFailure("rlog-ship", new Error("boom")));

    assertThat(AgentMain.runUntilStopOrFailure(agent, failure, neverStopped, BOUND)).isEqualTo(1);
    assertThat(agent.shutdowns).hasValue(1);
  }

  @Test
  void aRequestedStopExitsZero() throws Exception {
    RecordingService agent = new RecordingService(CompletableFuture.completedFuture(null));

    int code = AgentMain.runUntilStopOrFailure(agent, new CompletableFuture<>(),
        CompletableFuture.completedFuture(null), BOUND);

    assertThat(code).isZero();
    assertThat(agent.shutdowns).hasValue(1);
  }

  @Test
  void aStopThatDoesNotFinishInTimeExitsOne() throws Exception {
    RecordingService agent = new RecordingService(new CompletableFuture<>()); // never ends

    int code = AgentMain.runUntilStopOrFailure(agent, new CompletableFuture<>(),
        CompletableFuture.completedFuture(null), Duration.ofMillis(1));

    assertThat(code).isEqualTo(1);
  }

  @Test
  void aShipperThreadThatDiesMakesTheAgentExitNonZero() throws Exception {
    FakeClock clock = new FakeClock();
    AtomicReference<Shipper> ref = new AtomicReference<>();
    Batcher batcher = new Batcher(Batcher.Options.of(1, 1 << 20, Duration.ofSeconds(1)), clock,
        new Batcher.Listener() {
          @Override
          public void pollNeeded() {
            ref.get().pollNeeded();
          }
        });
    LogTransport acksEverything = (batches, token, deadline) ->
        CompletableFuture.completedFuture(Status.OK);
    Shipper shipper = new Shipper(batcher, acksEverything, new StaticToken(), ends -> {
      throw new StackOverflowError("simulated fatal error in the shipper thread");
    }, clock, Shipper.Options.defaults(), new ShipperCounters());
    ref.set(shipper);
    supervisor.watch(Shipper.THREAD_NAME, shipper.terminated());
    shipper.start();
    RecordingService agent =
        new RecordingService(() -> shipper.shutdown().exceptionally(t -> null));

    LineBatch.Builder line = new LineBatch.Builder("app", "fi", "/var/log/app.log");
    line.line(0, "x".getBytes(), 0, 1, 2);
    assertThat(shipper.offer(line.build())).isTrue();

    int code = AgentMain.runUntilStopOrFailure(agent, supervisor.failure(),
        new CompletableFuture<>(), BOUND);
    assertThat(code).isEqualTo(1);
    assertThat(supervisor.failure().join().cause()).isInstanceOf(StackOverflowError.class);
  }

  @Test
  void theAgentReportsAFailedServiceAndStopsCleanlyOtherwise(@TempDir Path dir) throws Exception {
    Agent failing = startAgent(dir.resolve("one"));
    CompletableFuture<Void> dead = new CompletableFuture<>();
    failing.watch("rlog-test-service", dead);
    dead.completeExceptionally(new IllegalStateException("died"));

    int code = AgentMain.runUntilStopOrFailure(failing, failing.failure(),
        new CompletableFuture<>(), BOUND);
    assertThat(code).isEqualTo(1);
    assertThat(failing.failure().join().service()).isEqualTo("rlog-test-service");

    // The real shipper and heartbeat threads end during a requested stop: that is no failure.
    Agent clean = startAgent(dir.resolve("two"));
    code = AgentMain.runUntilStopOrFailure(clean, clean.failure(),
        CompletableFuture.completedFuture(null), BOUND);
    assertThat(code).isZero();
    assertThat(clean.failure()).isNotDone();
  }

  /** A real agent whose collector is not there: its calls fail, its threads run. */
  private static Agent startAgent(Path dir) throws Exception {
    Path logs = Files.createDirectories(dir.resolve("logs"));
    Path state = Files.createDirectories(dir.resolve("state"));
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort(); // closed again: connections to it are refused
    }
    AgentConfig config = new AgentConfig(dir.resolve("agent.yaml"),
        ServerAddress.parse("127.0.0.1:" + port), "pk_test", 10, 1 << 20, Duration.ofSeconds(1),
        Duration.ofSeconds(30), 1 << 20, AgentConfig.DEFAULT_MAX_OPEN_FILES,
        AgentConfig.StartAt.BEGINNING,
        AgentConfig.Metrics.defaults(),
        List.of(new AgentConfig.Source("app", logs.resolve("*.log").toString())));
    Agent agent = new Agent(config, new AgentState(state), "acc-test", Clock.system());
    agent.start();
    return agent;
  }

  private static final class StaticToken implements AccessTokens {
    @Override
    public String accessToken() {
      return "tok";
    }

    @Override
    public String currentAccessToken() {
      return "tok";
    }

    @Override
    public String onUnauthenticated(String failedToken) {
      return "tok";
    }
  }
}
