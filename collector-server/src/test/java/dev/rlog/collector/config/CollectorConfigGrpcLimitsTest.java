package dev.rlog.collector.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.common.config.ConfigException;
import dev.rlog.common.config.YamlConfig;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The {@code grpc} memory bounds: defaults, values that follow other settings, conflicts. */
class CollectorConfigGrpcLimitsTest {
  private static CollectorConfig parse(String yaml) {
    return CollectorConfig.fromYaml(YamlConfig.parse(Path.of("collector.yaml"), yaml));
  }

  @Test
  void defaultsAreTheNamedConstants() {
    CollectorConfig.GrpcLimits l = parse("").grpcLimits();
    assertThat(l.maxInflightBytes()).isEqualTo(CollectorConfig.DEFAULT_MAX_INFLIGHT_BYTES);
    assertThat(l.maxBatchStoreBytes()).isEqualTo(CollectorConfig.DEFAULT_MAX_BATCH_STORE_BYTES);
    assertThat(l.flowControlWindow()).isEqualTo(CollectorConfig.DEFAULT_FLOW_CONTROL_WINDOW);
    assertThat(l.maxSmallMessageBytes())
        .isEqualTo(CollectorConfig.DEFAULT_MAX_SMALL_MESSAGE_BYTES);
    assertThat(l.maxAuthCalls()).isEqualTo(CollectorConfig.DEFAULT_MAX_AUTH_CALLS);
  }

  @Test
  void unsetBoundsFollowTheSettingsTheyMustAgreeWith() {
    CollectorConfig c = parse("grpc: {max_message_bytes: 32MiB}\nqueue: {capacity_bytes: 1MiB}");
    assertThat(c.grpcLimits().maxInflightBytes()).isEqualTo(32L << 20);
    assertThat(c.grpcLimits().maxBatchStoreBytes()).isEqualTo(1L << 20);
  }

  @Test
  void conflictingSettingsFailNamingTheKey() {
    ConfigException a = assertThrows(ConfigException.class,
        () -> parse("grpc: {max_message_bytes: 16MiB, max_inflight_bytes: 8MiB}"));
    assertThat(a.getMessage()).contains("grpc.max_inflight_bytes").contains("collector.yaml");
    ConfigException b = assertThrows(ConfigException.class,
        () -> parse("grpc: {max_batch_store_bytes: 8MiB}\nqueue: {capacity_bytes: 4MiB}"));
    assertThat(b.getMessage()).contains("grpc.max_batch_store_bytes");
    assertThrows(ConfigException.class, () -> parse("grpc: {max_auth_calls: 0}"));
  }
}
