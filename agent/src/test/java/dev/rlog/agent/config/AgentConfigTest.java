package dev.rlog.agent.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.common.config.ConfigException;
import dev.rlog.common.config.YamlConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AgentConfigTest {
  private static final Path FILE = Path.of("config/agent.yaml");
  private static final String MINIMAL = "server_addr: collector:50051\nproject_key: pk_secret\n";

  private static AgentConfig parse(String yaml) {
    return AgentConfig.fromYaml(YamlConfig.parse(FILE, yaml));
  }

  private static ConfigException error(String yaml) {
    return assertThrows(ConfigException.class, () -> parse(yaml));
  }

  @Test
  void defaults() {
    AgentConfig c = parse(MINIMAL);
    assertThat(c.serverAddr()).isEqualTo(new ServerAddress("collector", 50051));
    assertThat(c.projectKey()).isEqualTo("pk_secret");
    assertThat(c.batchSize()).isEqualTo(AgentConfig.DEFAULT_BATCH_SIZE).isEqualTo(1000);
    assertThat(c.batchMaxBytes()).isEqualTo(AgentConfig.DEFAULT_BATCH_MAX_BYTES).isEqualTo(1L << 20);
    assertThat(c.flushInterval()).isEqualTo(Duration.ofSeconds(10));
    assertThat(c.heartbeatInterval()).isEqualTo(Duration.ofSeconds(30));
    assertThat(c.maxLineBytes()).isEqualTo(1 << 20);
    assertThat(c.startAt()).isEqualTo(AgentConfig.StartAt.BEGINNING);
    assertThat(c.metrics()).isEqualTo(new AgentConfig.Metrics(false, "127.0.0.1", 9465));
    assertThat(c.sources()).isEmpty();
    assertThat(c.file()).isEqualTo(FILE);
  }

  @Test
  void everyKey() {
    AgentConfig c = parse("""
        server_addr: "[::1]:7000"
        project_key: pk_secret
        batch_size: 500
        batch_max_bytes: 2MiB
        flush_interval: 500ms
        heartbeat_interval: 1m
        max_line_bytes: 64KiB
        start_at: end
        metrics:
          enabled: true
          host: 0.0.0.0
          port: 9999
        sources:
          - label: app
            path: /var/log/app/*.log
          - label: sys
            path: /var/log/syslog
        """);
    assertThat(c.serverAddr()).isEqualTo(new ServerAddress("::1", 7000));
    assertThat(c.serverAddr().toString()).isEqualTo("[::1]:7000");
    assertThat(c.batchSize()).isEqualTo(500);
    assertThat(c.batchMaxBytes()).isEqualTo(2L << 20);
    assertThat(c.flushInterval()).isEqualTo(Duration.ofMillis(500));
    assertThat(c.heartbeatInterval()).isEqualTo(Duration.ofMinutes(1));
    assertThat(c.maxLineBytes()).isEqualTo(64 << 10);
    assertThat(c.startAt()).isEqualTo(AgentConfig.StartAt.END);
    assertThat(c.metrics()).isEqualTo(new AgentConfig.Metrics(true, "0.0.0.0", 9999));
    assertThat(c.sources()).containsExactly(
        new AgentConfig.Source("app", "/var/log/app/*.log"),
        new AgentConfig.Source("sys", "/var/log/syslog"));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "batch_size: 0                      | batch_size",
      "batch_size: lots                   | batch_size",
      "batch_max_bytes: 12 parsecs        | batch_max_bytes",
      "batch_max_bytes: 1GiB              | batch_max_bytes",
      "flush_interval: 0                  | flush_interval",
      "flush_interval: soon               | flush_interval",
      "heartbeat_interval: 2h             | heartbeat_interval",
      "max_line_bytes: 8                  | max_line_bytes",
      "max_line_bytes: 8MiB               | max_line_bytes",
      "start_at: middle                   | start_at",
      "metrics: {port: 70000}             | metrics.port",
      "metrics: {enabled: maybe}          | metrics.enabled",
      "metrics: {prot: 1}                 | metrics.prot",
      "batchsize: 10                      | batchsize",
      "sources: {label: a}                | sources",
      "sources: [{label: a}]              | sources[0].path",
      "sources: [{path: /x}]              | sources[0].label",
      "sources: [{label: a, path: /x, enabled: true}] | sources[0].enabled",
      "'sources: [{label: a, path: \"/x/[a\"}]' | sources[0].path",
      "'sources: [{label: a, path: /x}, {label: b, path: /x}]' | sources[1].path",
  })
  void badValuesNameTheFileAndTheKey(String line, String key) {
    ConfigException e = error(MINIMAL + line + "\n");
    assertThat(e.key()).isEqualTo(key);
    assertThat(e.file()).isEqualTo(FILE.toString());
    assertThat(e.getMessage()).startsWith(FILE + ": key '" + key + "'");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "collector                | no port",
      "collector:0              | port 0",
      "collector:http           | port not a number",
      "ftp://collector:50051    | scheme",
      "https://collector:1/x    | path",
      "a:b:c                    | bare ipv6",
      "':50051'                 | no host",
  })
  void badServerAddress(String value, String why) {
    ConfigException e = error("server_addr: '" + value + "'\nproject_key: k\n");
    assertThat(e.key()).as(why).isEqualTo("server_addr");
  }

  @Test
  void requiredKeys() {
    assertThat(error("project_key: k\n").key()).isEqualTo("server_addr");
    assertThat(error("server_addr: c:1\n").key()).isEqualTo("project_key");
    assertThat(error("server_addr: c:1\nproject_key: '  '\n").key()).isEqualTo("project_key");
  }

  @Test
  void maxLineLongerThanABatchIsAConflictNotAClamp() {
    ConfigException e = error(MINIMAL + "batch_max_bytes: 1MiB\nmax_line_bytes: 2MiB\n");
    assertThat(e.key()).isEqualTo("max_line_bytes");
    assertThat(e.getMessage()).contains("batch_max_bytes");
  }

  @Test
  void notYamlOrNotAMapping(@TempDir Path dir) throws Exception {
    assertThat(error("server_addr: [unclosed\n").file()).isEqualTo(FILE.toString());
    assertThat(error("- a\n- b\n").getMessage()).contains(FILE.toString());
    Path missing = dir.resolve("agent.yaml");
    ConfigException e = assertThrows(ConfigException.class, () -> AgentConfig.load(missing));
    assertThat(e.getMessage()).contains(missing.toString()).contains("not found");
  }

  @Test
  void yamlSyntaxErrorsDoNotQuoteTheProjectKey(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("agent.yaml");
    Files.writeString(file, "server_addr: c:1\nproject_key: pk_SECRET: x\n");
    ConfigException e = assertThrows(ConfigException.class, () -> AgentConfig.load(file));
    assertThat(e.getMessage()).startsWith(file + ": not valid YAML").contains("line 2")
        .doesNotContain("pk_SECRET");

    Files.writeString(file, "server_addr: c:1\nproject_key: \"pk_SECRET\n");
    assertThat(assertThrows(ConfigException.class, () -> AgentConfig.load(file)).getMessage())
        .doesNotContain("pk_SECRET");
  }

  @Test
  void toStringHidesTheProjectKey() {
    assertThat(parse(MINIMAL).toString()).doesNotContain("pk_secret").contains("redacted");
  }

  @Test
  void writerRoundTripsAndWritesMode0600(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("config/agent.yaml");
    AgentConfig c = new AgentConfig(file, new ServerAddress("collector.example.com", 50051),
        "pk: with #special 'chars'", 250, 2L << 20, Duration.ofMillis(1500), Duration.ofSeconds(30),
        AgentConfig.DEFAULT_MAX_LINE_BYTES, 7, AgentConfig.StartAt.END,
        new AgentConfig.Metrics(true, "127.0.0.1", 0),
        List.of(new AgentConfig.Source("app: web", "/var/log/app/*.log"),
            new AgentConfig.Source("*", "logs/{a,b}.log")));
    AgentConfigWriter.write(c, file);

    assertThat(AgentConfig.load(file)).isEqualTo(c);
    assertThat(Files.getPosixFilePermissions(file))
        .isEqualTo(PosixFilePermissions.fromString("rw-------"));
    String text = Files.readString(file);
    assertThat(text).contains("batch_size: 250", "flush_interval: 1500ms", "start_at: end",
        "batch_max_bytes: 2MiB", "heartbeat_interval: 30");
    assertThat(text).doesNotContainPattern("(?m)^max_line_bytes:"); // default: only in the header
  }

  @Test
  void writerAlwaysWritesTheFirstStartKeys() {
    String text = AgentConfigWriter.render(parse(MINIMAL));
    assertThat(text).contains("server_addr: collector:50051", "project_key: pk_secret",
        "batch_size: 1000", "flush_interval: 10", "heartbeat_interval: 30", "sources: []");
    assertThat(parse(text)).isEqualTo(parse(MINIMAL));
  }
}
