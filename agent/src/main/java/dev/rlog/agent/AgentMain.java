package dev.rlog.agent;

import dev.rlog.agent.auth.HostInfo;
import dev.rlog.agent.auth.Registrar;
import dev.rlog.agent.config.AgentConfig;
import dev.rlog.agent.config.AgentState;
import dev.rlog.agent.config.FirstStart;
import dev.rlog.agent.config.FirstStartException;
import dev.rlog.agent.ship.CollectorChannels;
import dev.rlog.common.config.ConfigException;
import dev.rlog.common.lifecycle.Service;
import dev.rlog.common.time.Clock;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sun.misc.Signal;

/**
 * Entry point of the host agent. Exit codes: 0 after a requested stop (SIGTERM/SIGINT) that
 * ended cleanly; 1 when a service thread failed (see {@link Agent#failure()}), the agent could not
 * start, or the stop did not end cleanly within {@link Agent#shutdownBound()}; 2 for a
 * configuration error that a restart cannot fix.
 */
@Command(
    name = "rlog-agent",
    mixinStandardHelpOptions = true,
    version = "rlog-agent 0.1.0",
    description = {
      "Tails log files and ships every line exactly once to an rlog collector.",
      "First start: set SERVER_ADDR (host:port, or https://host:port for TLS; RLOG_TLS_CA,",
      "RLOG_TLS_CERT, RLOG_TLS_KEY name the CA and a client certificate) and PROJECT_KEY",
      "(RLOG_PROTOCOL=send for a collector without the Ship method);",
      "the agent registers and writes",
      "config/agent.yaml and state/ (agent_uuid, token, positions). Later starts need neither.",
      "SIGTERM/Ctrl-C: stop reading, send what was read, commit what was acknowledged, exit 0.",
      "If a service thread fails the agent stops and exits 1, for the service manager to restart."
    })
public final class AgentMain implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(AgentMain.class);

  @Option(names = {"-c", "--config"}, defaultValue = "config/agent.yaml",
      description = "agent configuration, written on first start (default: ${DEFAULT-VALUE})")
  Path config;

  @Option(names = "--state", defaultValue = "state",
      description = "state directory: agent_uuid, token, positions (default: ${DEFAULT-VALUE})")
  Path stateDir;

  @Override
  public Integer call() throws Exception {
    CompletableFuture<Void> stop = new CompletableFuture<>();
    // Own handlers rather than a shutdown hook, so that a clean stop exits 0 (not 143).
    Signal.handle(new Signal("TERM"), s -> stop.complete(null));
    Signal.handle(new Signal("INT"), s -> stop.complete(null));

    AgentState state = new AgentState(stateDir);
    FirstStart.Result first;
    try {
      first = new FirstStart(config, state, System.getenv(),
          (server, tls) -> CollectorChannels.builder(server, tls).build(),
          HostInfo.detect(), Registrar.DEFAULT_DEADLINE).run();
    } catch (ConfigException e) {
      System.err.println("rlog-agent: " + e.getMessage());
      return 2;
    } catch (FirstStartException e) {
      System.err.println("rlog-agent: " + e.getMessage());
      return e.retryable() ? 1 : 2;
    }
    AgentConfig cfg = first.config();
    if (first.registered()) {
      log.info("registered with {}; wrote {} and {}", cfg.serverAddr(), config, stateDir);
    }
    Agent agent = new Agent(cfg, state, first.accessToken(), Clock.system());
    try {
      agent.start();
    } catch (Exception e) {
      log.error("agent failed to start: {}", e.toString());
      agent.shutdown().get(Agent.shutdownBound().toSeconds(), TimeUnit.SECONDS);
      return 1;
    }
    return runUntilStopOrFailure(agent, agent.failure(), stop, Agent.shutdownBound());
  }

  /**
   * Waits for {@code stop} (a signal) or a service failure, whichever comes first, then shuts
   * {@code agent} down within {@code bound}. Returns the exit code: 0 for a stop that ended
   * cleanly; 1 if a service failed (before or during the stop) or the shutdown did not finish
   * cleanly in time.
   */
  static int runUntilStopOrFailure(Service agent, CompletableFuture<ServiceFailure> failure,
      CompletableFuture<?> stop, Duration bound) throws InterruptedException {
    try {
      CompletableFuture.anyOf(stop, failure).get();
    } catch (ExecutionException e) {
      // Neither future is completed exceptionally by us; treat it as a failure all the same.
      log.error("waiting for a stop signal failed", e.getCause());
    }
    boolean failed = failure.isDone() && !stop.isDone();
    if (failed) {
      ServiceFailure f = failure.join();
      log.error("stopping because service {} failed: {}", f.service(), f.cause().toString());
    } else {
      log.info("stopping: sending what was read");
    }
    boolean clean = shutdownWithin(agent, bound);
    if (!failed && failure.isDone()) {
      ServiceFailure f = failure.join();
      log.error("service {} failed while stopping: {}", f.service(), f.cause().toString());
      failed = true;
    }
    log.info("stopped");
    return failed || !clean ? 1 : 0;
  }

  private static boolean shutdownWithin(Service agent, Duration bound)
      throws InterruptedException {
    try {
      agent.shutdown().get(bound.toMillis(), TimeUnit.MILLISECONDS);
      return true;
    } catch (TimeoutException e) {
      log.error("shutdown did not finish within {}; exiting anyway", bound);
      return false;
    } catch (ExecutionException e) {
      log.error("shutdown failed: {}", e.getCause().toString());
      return false;
    }
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new AgentMain()).execute(args));
  }
}
