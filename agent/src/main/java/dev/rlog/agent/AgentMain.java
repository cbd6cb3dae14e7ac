package dev.rlog.agent;

import dev.rlog.agent.auth.HostInfo;
import dev.rlog.agent.auth.Registrar;
import dev.rlog.agent.config.AgentConfig;
import dev.rlog.agent.config.AgentState;
import dev.rlog.agent.config.FirstStart;
import dev.rlog.agent.config.FirstStartException;
import dev.rlog.common.config.ConfigException;
import dev.rlog.common.time.Clock;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import sun.misc.Signal;

/** Entry point of the host agent. */
@Command(
    name = "rlog-agent",
    mixinStandardHelpOptions = true,
    version = "rlog-agent 0.1.0",
    description = {
      "Tails log files and ships every line exactly once to an rlog collector.",
      "First start: set SERVER_ADDR (host:port) and PROJECT_KEY; the agent registers and writes",
      "config/agent.yaml and state/ (agent_uuid, token, positions). Later starts need neither.",
      "SIGTERM/Ctrl-C: stop reading, send what was read, commit what was acknowledged, exit 0."
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
    CountDownLatch stop = new CountDownLatch(1);
    // Own handlers rather than a shutdown hook, so that a clean stop exits 0 (not 143).
    Signal.handle(new Signal("TERM"), s -> stop.countDown());
    Signal.handle(new Signal("INT"), s -> stop.countDown());

    AgentState state = new AgentState(stateDir);
    FirstStart.Result first;
    try {
      first = new FirstStart(config, state, System.getenv(),
          addr -> NettyChannelBuilder.forAddress(addr.host(), addr.port()).usePlaintext().build(),
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
    stop.await();
    log.info("stopping: sending what was read");
    agent.shutdown().get(Agent.shutdownBound().toSeconds(), TimeUnit.SECONDS);
    log.info("stopped");
    return 0;
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new AgentMain()).execute(args));
  }
}
