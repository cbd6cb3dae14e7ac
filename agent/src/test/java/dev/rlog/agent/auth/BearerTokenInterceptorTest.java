package dev.rlog.agent.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.proto.auth.AuthServiceGrpc;
import dev.rlog.proto.auth.RegisterRequest;
import dev.rlog.proto.health.HealthServiceGrpc;
import dev.rlog.proto.health.HeartbeatRequest;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class BearerTokenInterceptorTest {
  private final AtomicReference<String> supplied = new AtomicReference<>();
  private FakeCollector collector;
  private ManagedChannel raw;
  private Channel channel;

  @BeforeEach
  void setUp() throws Exception {
    collector = new FakeCollector();
    raw = InProcessChannelBuilder.forName(collector.name).directExecutor().build();
    channel = ClientInterceptors.intercept(raw, new BearerTokenInterceptor(supplied::get));
  }

  @AfterEach
  void tearDown() {
    raw.shutdownNow();
    collector.close();
  }

  @Test
  void suppliedTokenOnOrdinaryCallsNoneOnRegisterAndRefresh() {
    supplied.set("acc-supplied");
    AuthServiceGrpc.newBlockingStub(channel).register(RegisterRequest.newBuilder()
        .setProjectKey(FakeCollector.PROJECT_KEY).setHostname("h").setOs("Linux").build());
    assertThrows(StatusRuntimeException.class, () -> HealthServiceGrpc.newBlockingStub(channel)
        .heartbeat(HeartbeatRequest.getDefaultInstance())); // acc-supplied was never issued

    assertThat(collector.seenAuthorization).containsExactly(
        "auth.AuthService/Register=",
        "health.HealthService/Heartbeat=Bearer acc-supplied");
  }

  @Test
  void theCallsOwnTokenWinsAndNoTokenMeansNoHeader() {
    supplied.set("acc-supplied");
    assertThrows(StatusRuntimeException.class, () -> HealthServiceGrpc.newBlockingStub(channel)
        .withOption(BearerTokenInterceptor.ACCESS_TOKEN, "acc-explicit")
        .heartbeat(HeartbeatRequest.getDefaultInstance()));
    supplied.set(null);
    assertThrows(StatusRuntimeException.class, () -> HealthServiceGrpc.newBlockingStub(channel)
        .heartbeat(HeartbeatRequest.getDefaultInstance()));

    assertThat(collector.seenAuthorization).containsExactly(
        "health.HealthService/Heartbeat=Bearer acc-explicit",
        "health.HealthService/Heartbeat=");
  }
}
