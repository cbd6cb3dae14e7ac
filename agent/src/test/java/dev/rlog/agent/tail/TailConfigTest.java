package dev.rlog.agent.tail;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class TailConfigTest {
  @Test
  void defaultsAreValid() {
    TailConfig c = TailConfig.defaults();
    assertThat(c.blockBytes()).isEqualTo(256 * 1024);
    assertThat(c.maxLineBytes()).isEqualTo(1 << 20);
    assertThat(c.startPosition()).isEqualTo(TailConfig.StartPosition.BEGINNING);
  }

  @Test
  void invalidValuesNameTheirKey() {
    assertThat(assertThrows(IllegalArgumentException.class,
        () -> TailConfig.builder().maxLineBytes(0).build()).getMessage())
        .startsWith("tail.max_line_bytes");
    assertThat(assertThrows(IllegalArgumentException.class,
        () -> TailConfig.builder().rescanInterval(Duration.ZERO).build()).getMessage())
        .startsWith("tail.rescan_interval");
    assertThat(assertThrows(IllegalArgumentException.class,
        () -> TailConfig.builder().copyGrace(Duration.ofMinutes(10)).build()).getMessage())
        .contains("tail.copy_grace").contains("tail.retention");
    assertThat(assertThrows(IllegalArgumentException.class,
        () -> TailConfig.builder().blockBytes(4096).fingerprintBytes(8192).build()).getMessage())
        .contains("tail.fingerprint_bytes");
  }

  @Test
  void sourceGlobOnlyInTheFileName() {
    TailSource s = new TailSource("app", "/var/log/app/*.log");
    assertThat(s.directory()).isEqualTo(Path.of("/var/log/app"));
    assertThat(s.fileNameMatcher().matches(Path.of("x.log"))).isTrue();
    assertThat(s.fileNameMatcher().matches(Path.of("x.log.1"))).isFalse();
    assertThat(new TailSource("a", "/var/log/app.log*").fileNameMatcher()
        .matches(Path.of("app.log.1"))).isTrue();
    assertThat(assertThrows(IllegalArgumentException.class,
        () -> new TailSource("app", "/var/*/app.log")).getMessage()).contains("app")
        .contains("only supported in the file name");
    assertThrows(IllegalArgumentException.class, () -> new TailSource("", "/x"));
    assertThrows(IllegalArgumentException.class, () -> new TailSource("a", " "));
  }
}
