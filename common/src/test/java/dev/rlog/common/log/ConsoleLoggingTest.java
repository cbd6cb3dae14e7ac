package dev.rlog.common.log;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.Encoder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ConsoleLoggingTest {
  @Test
  void logsOneLinePerEventToStderrAtTheLevelAskedForWithGrpcAtWarn() {
    LoggerContext ctx = new LoggerContext();
    ConsoleLogging.configure(ctx, " debug ");
    Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
    assertThat(root.getLevel()).isEqualTo(Level.DEBUG);
    assertThat(ctx.getLogger("io.grpc.netty.shaded.io.netty.channel").getEffectiveLevel())
        .isEqualTo(Level.WARN);
    assertThat(ctx.getLogger("io.netty.buffer").getEffectiveLevel()).isEqualTo(Level.WARN);
    assertThat(ctx.getLogger("dev.rlog.agent.Agent").getEffectiveLevel()).isEqualTo(Level.DEBUG);

    ConsoleAppender<?> stderr = (ConsoleAppender<?>) root.getAppender("STDERR");
    assertThat(stderr.isStarted()).isTrue();
    assertThat(stderr.getTarget()).isEqualTo("System.err");
    @SuppressWarnings("unchecked")
    Encoder<ch.qos.logback.classic.spi.ILoggingEvent> enc =
        (Encoder<ch.qos.logback.classic.spi.ILoggingEvent>) stderr.getEncoder();
    LoggingEvent e = new LoggingEvent("x", ctx.getLogger("dev.rlog.agent.Agent"), Level.INFO,
        "agent started", null, null);
    e.setThreadName("main");
    e.setTimeStamp(1_764_504_000_123L); // 2025-11-30T12:00:00.123Z
    String line = new String(enc.encode(e), StandardCharsets.UTF_8);
    assertThat(line).matches("2025-11-30T\\d\\d:00:00\\.123[^ ]+ INFO  \\[main\\] "
        + "d\\.rlog\\.agent\\.Agent - agent started\\R");
  }

  @Test
  void anUnsetOrUnknownLevelIsInfo() {
    for (String level : new String[] {null, "", "loud"}) {
      LoggerContext ctx = new LoggerContext();
      ConsoleLogging.configure(ctx, level);
      assertThat(ctx.getLogger(Logger.ROOT_LOGGER_NAME).getLevel()).as(level)
          .isEqualTo(Level.INFO);
    }
  }
}
