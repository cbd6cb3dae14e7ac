package dev.rlog.agent;

import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the host agent. The tailing and shipping parts are tracked in their own issue. */
@Command(
    name = "rlog-agent",
    mixinStandardHelpOptions = true,
    version = "rlog-agent 0.1.0",
    description = "Tails log files and ships every line exactly once to an rlog collector.")
public final class AgentMain implements Callable<Integer> {

  @Override
  public Integer call() {
    System.err.println("rlog-agent: tailing and shipping are not implemented yet");
    return 2;
  }

  public static void main(String[] args) {
    System.exit(new CommandLine(new AgentMain()).execute(args));
  }
}
