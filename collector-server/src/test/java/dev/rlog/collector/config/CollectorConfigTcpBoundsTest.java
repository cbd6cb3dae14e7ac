package dev.rlog.collector.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.collector.tcp.SourceAllowlist;
import dev.rlog.collector.tcp.TcpIngestOptions;
import dev.rlog.common.config.ConfigException;
import dev.rlog.common.config.YamlConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The tcp bounds keys: defaults from the options class, errors naming the file and the key. */
class CollectorConfigTcpBoundsTest {
  private static final Path FILE = Path.of("conf/collector.yaml");

  private static CollectorConfig parse(String yaml) {
    return CollectorConfig.fromYaml(YamlConfig.parse(FILE, yaml));
  }

  @Test
  void defaultsAreLoopbackOnlyAndInsideTheHeap() {
    CollectorConfig.TcpBounds b = parse("").tcpBounds();
    assertThat(b.allow()).isEqualTo(SourceAllowlist.DEFAULT);
    assertThat(b.maxConnections()).isEqualTo(TcpIngestOptions.DEFAULT_MAX_CONNECTIONS);
    assertThat(b.partialBytesBudget()).isEqualTo(TcpIngestOptions.DEFAULT_PARTIAL_BYTES_BUDGET);
    assertThat(b.partialTimeout()).isEqualTo(TcpIngestOptions.DEFAULT_PARTIAL_TIMEOUT);
  }

  @Test
  void valuesAreRead() {
    CollectorConfig.TcpBounds b = parse("tcp: {allow: [10.0.0.0/8, \"fd00::/8\"],"
        + " max_connections: 50, partial_bytes_budget: 4MiB, partial_timeout: 5s}").tcpBounds();
    assertThat(b.allow()).containsExactly("10.0.0.0/8", "fd00::/8");
    assertThat(b.maxConnections()).isEqualTo(50);
    assertThat(b.partialBytesBudget()).isEqualTo(4L << 20);
    assertThat(b.partialTimeout()).isEqualTo(Duration.ofSeconds(5));
  }

  @Test
  void badValuesNameTheFileAndTheKey() {
    for (var c : List.of(
        List.of("tcp: {allow: [10.0.0.0/33]}", "tcp.allow"),
        List.of("tcp: {allow: 10.0.0.0/8}", "tcp.allow"),
        List.of("tcp: {allow: [{a: 1}]}", "tcp.allow[0]"),
        List.of("tcp: {max_connections: 0}", "tcp.max_connections"),
        List.of("tcp: {partial_timeout: 0s}", "tcp.partial_timeout"),
        List.of("tcp: {max_frame_bytes: 2MiB, partial_bytes_budget: 1MiB}",
            "tcp.partial_bytes_budget"))) {
      ConfigException e = assertThrows(ConfigException.class, () -> parse(c.get(0)));
      assertThat(e.getMessage()).as(c.get(0)).contains("collector.yaml").contains(c.get(1));
    }
  }
}
