package dev.rlog.agent.heartbeat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.google.protobuf.Empty;
import dev.rlog.agent.auth.AccessTokens;
import dev.rlog.agent.auth.BearerTokenInterceptor;
import dev.rlog.common.time.FakeClock;
import dev.rlog.proto.health.HealthServiceGrpc;
import dev.rlog.proto.health.HeartbeatRequest;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class HeartbeatTest {
  private static final Duration INTERVAL = Duration.ofSeconds(30);

  private final FakeClock clock = new FakeClock();
  private final List<HeartbeatRequest> received = new CopyOnWriteArrayList<>();
  private final List<String> handlerThreads = new CopyOnWriteArrayList<>();
  private final CountDownLatch firstBeat = new CountDownLatch(1);
  private volatile Status failWith;
  private volatile Set<String> validTokens = Set.of("tok-1");

  private final FakeTokens tokens = new FakeTokens();
  private final FakeMetrics metrics = new FakeMetrics();
  private Server server;
  private ManagedChannel raw;
  private Channel channel;
  private Logger heartbeatLog;
  private Level oldLevel;
  private final ListAppender<ILoggingEvent> logs = new ListAppender<>();

  /** Hands out "tok-1" until told the collector refused it, then "tok-2". */
  final class FakeTokens implements AccessTokens {
    volatile String current = "tok-1";
    final List<String> failedReports = new CopyOnWriteArrayList<>();

    @Override
    public String accessToken() {
      return current;
    }

    @Override
    public String currentAccessToken() {
      return current;
    }

    @Override
    public String onUnauthenticated(String failedToken) {
      failedReports.add(failedToken);
      current = "tok-2";
      validTokens = Set.of("tok-2");
      return current;
    }
  }

  final class FakeMetrics implements SystemMetrics {
    volatile Sample next = new Sample(12.5, 50.0);
    volatile Duration takes = Duration.ZERO;

    @Override
    public Sample sample() {
      clock.advance(takes); // a slow read moves time on, like a slow call would
      return next;
    }
  }

  @BeforeEach
  void setUp() throws Exception {
    ServerInterceptor auth = new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
          ServerCallHandler<Q, R> next) {
        String h = headers.get(BearerTokenInterceptor.AUTHORIZATION);
        if (h == null || !validTokens.contains(h.substring("Bearer ".length()))) {
          call.close(Status.UNAUTHENTICATED.withDescription("expired"), new Metadata());
          return new ServerCall.Listener<>() {};
        }
        return next.startCall(call, headers);
      }
    };
    HealthServiceGrpc.HealthServiceImplBase health = new HealthServiceGrpc.HealthServiceImplBase() {
      @Override
      public void heartbeat(HeartbeatRequest request, StreamObserver<Empty> out) {
        handlerThreads.add(Thread.currentThread().getName());
        Status fail = failWith;
        if (fail != null) {
          out.onError(fail.asRuntimeException());
          return;
        }
        received.add(request);
        firstBeat.countDown();
        out.onNext(Empty.getDefaultInstance());
        out.onCompleted();
      }
    };
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).directExecutor()
        .addService(ServerInterceptors.intercept(health, auth)).build().start();
    raw = InProcessChannelBuilder.forName(name).directExecutor().build();
    channel = ClientInterceptors.intercept(raw, new BearerTokenInterceptor(tokens::currentAccessToken));

    heartbeatLog = (Logger) LoggerFactory.getLogger(Heartbeat.class);
    oldLevel = heartbeatLog.getLevel();
    heartbeatLog.setLevel(Level.DEBUG);
    logs.start();
    heartbeatLog.addAppender(logs);
  }

  @AfterEach
  void tearDown() {
    heartbeatLog.detachAppender(logs);
    heartbeatLog.setLevel(oldLevel);
    raw.shutdownNow();
    server.shutdownNow();
  }

  private Heartbeat heartbeat() {
    return new Heartbeat(channel, tokens, metrics, clock, INTERVAL, Duration.ofSeconds(5));
  }

  private List<String> logged(Level level) {
    return logs.list.stream().filter(e -> e.getLevel() == level)
        .map(ILoggingEvent::getFormattedMessage).toList();
  }

  private static long millis(com.google.protobuf.Timestamp t) {
    return t.getSeconds() * 1000 + t.getNanos() / 1_000_000;
  }

  @Test
  void firstBeatAtOnceThenEveryIntervalWithTheSampledValues() {
    Heartbeat hb = heartbeat();
    long t0 = clock.nanoTime();

    assertThat(hb.runDue(t0)).isEqualTo(t0 + INTERVAL.toNanos());
    assertThat(received).singleElement().satisfies(r -> {
      assertThat(r.getCpu()).isEqualTo(12.5);
      assertThat(r.getMemory()).isEqualTo(50.0);
      assertThat(millis(r.getTimestamp())).isEqualTo(clock.currentTimeMillis());
    });

    clock.advance(INTERVAL.minusNanos(1));
    assertThat(hb.runDue(clock.nanoTime())).as("not due yet").isEqualTo(t0 + INTERVAL.toNanos());
    assertThat(received).hasSize(1);

    clock.advance(Duration.ofNanos(1));
    metrics.next = new SystemMetrics.Sample(99.0, 1.0);
    assertThat(hb.runDue(clock.nanoTime())).isEqualTo(t0 + 2 * INTERVAL.toNanos());
    assertThat(received).hasSize(2);
    assertThat(received.get(1).getCpu()).isEqualTo(99.0);

    // Woken late (5 s): fixed rate, the next beat keeps its slot.
    clock.advance(INTERVAL.plusSeconds(5));
    assertThat(hb.runDue(clock.nanoTime())).isEqualTo(t0 + 3 * INTERVAL.toNanos());
    assertThat(hb.sentCount()).isEqualTo(3);
    assertThat(logs.list).isEmpty();
  }

  @Test
  void aBeatOverrunningItsSlotSkipsInsteadOfBursting() {
    Heartbeat hb = heartbeat();
    long t0 = clock.nanoTime();
    metrics.takes = Duration.ofSeconds(75); // two and a half intervals

    long next = hb.runDue(t0);

    assertThat(next).isEqualTo(t0 + Duration.ofSeconds(75 + 30).toNanos());
    assertThat(received).hasSize(1);
  }

  @Test
  void valuesAreClampedToPercentages() {
    metrics.next = new SystemMetrics.Sample(Double.NaN, 100.0000001);
    heartbeat().runDue(clock.nanoTime());
    metrics.next = new SystemMetrics.Sample(-3, 42);
    Heartbeat hb2 = heartbeat();
    hb2.runDue(clock.nanoTime());
    assertThat(received).extracting(HeartbeatRequest::getCpu).containsExactly(0.0, 0.0);
    assertThat(received).extracting(HeartbeatRequest::getMemory).containsExactly(100.0, 42.0);
  }

  @Test
  void anOutageIsLoggedOnceAndItsEndOnce() {
    Heartbeat hb = heartbeat();
    failWith = Status.UNAVAILABLE.withDescription("connection refused");
    for (int i = 0; i < 3; i++) {
      hb.runDue(clock.nanoTime());
      clock.advance(INTERVAL);
    }
    assertThat(logged(Level.WARN)).singleElement().asString()
        .contains("UNAVAILABLE").contains("connection refused");
    assertThat(logged(Level.DEBUG)).hasSize(2);
    assertThat(hb.failedCount()).isEqualTo(3);

    failWith = null;
    hb.runDue(clock.nanoTime());
    clock.advance(INTERVAL);
    hb.runDue(clock.nanoTime());
    assertThat(logged(Level.INFO)).containsExactly("heartbeat delivered again after 3 failed beat(s)");
    assertThat(hb.sentCount()).isEqualTo(2);

    failWith = Status.DEADLINE_EXCEEDED;
    clock.advance(INTERVAL);
    hb.runDue(clock.nanoTime());
    assertThat(logged(Level.WARN)).as("a new outage is logged again").hasSize(2);
  }

  @Test
  void unauthenticatedRenewsTheTokenAndResendsTheBeat() {
    validTokens = Set.of(); // tok-1 has expired
    Heartbeat hb = heartbeat();

    hb.runDue(clock.nanoTime());

    assertThat(tokens.failedReports).containsExactly("tok-1");
    assertThat(received).hasSize(1);
    assertThat(hb.sentCount()).isEqualTo(1);
    assertThat(hb.failedCount()).isZero();
    assertThat(logs.list).isEmpty();
  }

  @Test
  void aFailedRenewalIsAFailedBeat() {
    validTokens = Set.of();
    AccessTokens broken = new AccessTokens() {
      @Override
      public String accessToken() {
        return "tok-1";
      }

      @Override
      public String currentAccessToken() {
        return "tok-1";
      }

      @Override
      public String onUnauthenticated(String failedToken) {
        throw Status.UNAVAILABLE.withDescription("collector down").asRuntimeException();
      }
    };
    Heartbeat hb = new Heartbeat(channel, broken, metrics, clock, INTERVAL, Duration.ofSeconds(5));
    long next = hb.runDue(clock.nanoTime());
    assertThat(next).isEqualTo(INTERVAL.toNanos());
    assertThat(hb.failedCount()).isEqualTo(1);
    assertThat(logged(Level.WARN)).singleElement().asString().contains("collector down");
  }

  @Test
  void runsOnItsNamedThreadAndShutsDownIdempotently() throws Exception {
    Heartbeat hb = heartbeat();
    hb.start();
    assertThat(firstBeat.await(5, TimeUnit.SECONDS)).isTrue();
    assertThat(handlerThreads).first().isEqualTo(Heartbeat.THREAD_NAME);
    assertThrows(IllegalStateException.class, hb::start);

    CompletableFuture<Void> first = hb.shutdown();
    assertThat(hb.shutdown()).isSameAs(first);
    first.get(5, TimeUnit.SECONDS); // the 30 s wait is cut short by shutdown
    hb.close();
    assertThat(received).hasSize(1);
    assertThrows(IllegalStateException.class, hb::start);
  }

  @Test
  void shutdownBeforeStartCompletesAtOnce() {
    Heartbeat hb = heartbeat();
    assertThat(hb.shutdown()).isCompleted();
    assertThrows(IllegalStateException.class, hb::start);
  }

  @Test
  void realOshiValuesArePercentages() {
    OshiSystemMetrics oshi = new OshiSystemMetrics();
    for (int i = 0; i < 2; i++) {
      SystemMetrics.Sample s = oshi.sample();
      assertThat(s.cpuPercent()).isBetween(0.0, 100.0);
      assertThat(s.memoryPercent()).isBetween(0.0, 100.0).isGreaterThan(0.0);
    }
  }
}
