package dev.rlog.common.log;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.spi.ContextAwareBase;

/**
 * The log set-up of the agent and the collector, in code: one line per event on standard error,
 * {@code 2026-11-30T12:00:00.000Z INFO  [thread] logger - message}, at the level of the
 * {@code RLOG_LOG_LEVEL} environment variable (INFO when unset or not a level), gRPC and Netty
 * at WARN.
 *
 * <p>Found by logback through {@code META-INF/services} of each program's jar. Logback's XML
 * configurator loads about a thousand classes and took ~0.4 s of each start here, against
 * ~0.2 s for this. A {@code logback.configurationFile} system property or a {@code
 * logback-test.xml} on the class path (the tests) is left to logback's XML configurator.
 */
public final class ConsoleLogging extends ContextAwareBase implements Configurator {
  static final String PATTERN =
      "%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %-5level [%thread] %logger{20} - %msg%n";

  @Override
  public ExecutionStatus configure(LoggerContext context) {
    if (System.getProperty("logback.configurationFile") != null
        || ConsoleLogging.class.getClassLoader().getResource("logback-test.xml") != null) {
      return ExecutionStatus.INVOKE_NEXT_IF_ANY;
    }
    configure(context, System.getenv("RLOG_LOG_LEVEL"));
    return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
  }

  static void configure(LoggerContext context, String level) {
    PatternLayoutEncoder encoder = new PatternLayoutEncoder();
    encoder.setContext(context);
    encoder.setPattern(PATTERN);
    encoder.start();
    ConsoleAppender<ILoggingEvent> stderr = new ConsoleAppender<>();
    stderr.setContext(context);
    stderr.setName("STDERR");
    stderr.setTarget("System.err");
    stderr.setEncoder(encoder);
    stderr.start();
    Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
    root.setLevel(Level.toLevel(level == null ? null : level.strip(), Level.INFO));
    root.addAppender(stderr);
    context.getLogger("io.grpc").setLevel(Level.WARN);
    context.getLogger("io.netty").setLevel(Level.WARN);
  }
}
