package dev.rlog.collector;

import dev.rlog.collector.auth.AgentInfo;
import dev.rlog.collector.auth.AgentRegistry;
import dev.rlog.collector.auth.Project;
import dev.rlog.collector.auth.ProjectRegistry;
import dev.rlog.collector.config.CollectorConfig;
import dev.rlog.common.config.AtomicFiles;
import dev.rlog.common.config.ConfigException;
import dev.rlog.common.time.Clock;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import sun.misc.Signal;

/**
 * The collector's command line: with no subcommand it runs the collector; {@code project} and
 * {@code agents} are the ops commands that work on the collector's state directory.
 */
@Command(
    name = "rlog-collector",
    mixinStandardHelpOptions = true,
    version = "rlog-collector 0.1.0",
    description = {
      "Runs the rlog collector: gRPC services for agents, raw TCP ingest, one rotating store.",
      "Stop it with SIGTERM or Ctrl-C: it stops accepting, stores everything it received, exits 0."
    },
    subcommands = {CollectorMain.ProjectCommand.class, CollectorMain.AgentsCommand.class,
        CollectorMain.TlsCommand.class})
public final class CollectorMain implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(CollectorMain.class);
  static final Duration SHUTDOWN_BOUND = Duration.ofSeconds(90);

  @Option(
      names = {"-c", "--config"},
      description = "collector configuration (default: ${DEFAULT-VALUE})",
      defaultValue = "config/collector.yaml")
  Path config;

  @Option(
      names = "--ready-file",
      description = "once listening, write the bound ports here as JSON (for scripts and tests)")
  Path readyFile;

  @Override
  public Integer call() throws Exception {
    if (!Files.exists(config)) {
      log.info("{} not found: using defaults", config);
    }
    CollectorConfig cfg = loadConfig(true);
    CountDownLatch stop = new CountDownLatch(1);
    // Own handlers rather than a shutdown hook: the JVM would exit 143 after a hook, and ops
    // tooling (systemd, CI) expects a clean stop to exit 0.
    Signal.handle(new Signal("TERM"), s -> stop.countDown());
    Signal.handle(new Signal("INT"), s -> stop.countDown());
    Collector collector = new Collector(cfg, Clock.system());
    try {
      collector.start();
    } catch (Exception e) {
      log.error("collector failed to start: {}", e.toString());
      collector.shutdown().get(SHUTDOWN_BOUND.toSeconds(), TimeUnit.SECONDS);
      return 1;
    }
    log.info("collector ready: grpc {}:{} ({}), tcp {}, store {}, metrics {}", cfg.grpc().host(),
        collector.grpcPort(), tlsMode(cfg.grpcTls()), cfg.tcpEnabled() ? cfg.tcp().host() + ":"
            + collector.tcpPort() + " (" + tlsMode(cfg.tcpTls()) + ")" : "disabled",
        cfg.storeDir().toAbsolutePath(),
        cfg.metricsEnabled() ? cfg.metrics().host() + ":" + collector.metricsPort() : "disabled");
    if (readyFile != null) {
      String json = String.format("{\"grpc_port\":%d,\"tcp_port\":%d,\"metrics_port\":%d,"
          + "\"pid\":%d}%n", collector.grpcPort(), collector.tcpPort(), collector.metricsPort(),
          ProcessHandle.current().pid());
      AtomicFiles.write(readyFile, json.getBytes(StandardCharsets.UTF_8));
    }
    Integer failure = collector.awaitStopOrFailure(stop);
    log.info("stopping: draining the ingest queue into the store");
    collector.shutdown().get(SHUTDOWN_BOUND.toSeconds(), TimeUnit.SECONDS);
    log.info("stopped");
    return failure;
  }

  /** How a listener is secured, for the ready line; names the certificate file, not the key. */
  static String tlsMode(dev.rlog.common.tls.TlsFiles tls) {
    if (tls == null) {
      return "plaintext";
    }
    return "TLS, certificate " + tls.cert() + (tls.ca() == null ? ""
        : ", client certificates required (CA " + tls.ca() + ")");
  }

  CollectorConfig loadConfig(boolean allowMissing) {
    if (allowMissing && !Files.exists(config)) {
      log.debug("{} not found: using defaults", config);
      return CollectorConfig.fromYaml(dev.rlog.common.config.YamlConfig.parse(config, ""));
    }
    return CollectorConfig.load(config);
  }

  /** {@code project create|sources|list}. */
  @Command(
      name = "project",
      mixinStandardHelpOptions = true,
      description = "Create projects and set the sources their agents tail.",
      subcommands = {
        ProjectCommand.Create.class, ProjectCommand.Sources.class, ProjectCommand.ListProjects.class
      })
  static final class ProjectCommand {
    @ParentCommand CollectorMain main;

    ProjectRegistry registry() throws Exception {
      CollectorConfig cfg = main.loadConfig(true);
      return ProjectRegistry.open(cfg.stateDir());
    }

    @Command(
        name = "create",
        mixinStandardHelpOptions = true,
        description = {
          "Creates a project and prints its key ONCE (only a hash is stored).",
          "Agents register with SERVER_ADDR and PROJECT_KEY=<key>."
        })
    static final class Create implements Callable<Integer> {
      @ParentCommand ProjectCommand parent;

      @Parameters(index = "0", description = "project id: lower-case letters, digits, - and _")
      String id;

      @Option(names = "--source", description = "LABEL=PATH a source the agents tail (repeat)")
      List<String> sources = new ArrayList<>();

      @Option(names = "--batch-size", defaultValue = "1000", description = "lines per batch")
      long batchSize;

      @Option(names = "--flush-interval", defaultValue = "10", description = "seconds")
      long flushIntervalSec;

      @Option(names = "--timezone", defaultValue = "UTC", description = "timezone for agents")
      String timezone;

      @Override
      public Integer call() throws Exception {
        ProjectRegistry reg = parent.registry();
        List<Project.Source> parsed = parseSources(sources);
        String key = reg.create(id, batchSize, flushIntervalSec, timezone, parsed);
        PrintWriter out = parent.main.spec.commandLine().getOut();
        out.println(key);
        out.flush();
        parent.main.spec.commandLine().getErr().println(
            "project '" + id + "' created; the key above is shown only now: store it safely");
        return 0;
      }
    }

    @Command(name = "sources", mixinStandardHelpOptions = true,
        description = "Replaces a project's sources.")
    static final class Sources implements Callable<Integer> {
      @ParentCommand ProjectCommand parent;

      @Parameters(index = "0", description = "project id")
      String id;

      @Option(names = "--source", required = true,
          description = "LABEL=PATH a source the agents tail (repeat)")
      List<String> sources = new ArrayList<>();

      @Override
      public Integer call() throws Exception {
        parent.registry().setSources(id, parseSources(sources));
        return 0;
      }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Lists projects.")
    static final class ListProjects implements Callable<Integer> {
      @ParentCommand ProjectCommand parent;

      @Override
      public Integer call() throws Exception {
        PrintWriter out = parent.main.spec.commandLine().getOut();
        out.printf("%-20s %10s %10s %-12s %s%n", "PROJECT", "BATCH", "FLUSH_S", "TIMEZONE",
            "SOURCES");
        for (Project p : parent.registry().list()) {
          StringBuilder s = new StringBuilder();
          for (Project.Source src : p.sources()) {
            s.append(s.length() == 0 ? "" : ", ").append(src.label()).append('=')
                .append(src.path());
          }
          out.printf("%-20s %10d %10d %-12s %s%n", p.id(), p.batchSize(), p.flushIntervalSec(),
              p.timezone(), s);
        }
        out.flush();
        return 0;
      }
    }

    static List<Project.Source> parseSources(List<String> specs) {
      List<Project.Source> out = new ArrayList<>();
      for (String s : specs) {
        int eq = s.indexOf('=');
        if (eq <= 0 || eq == s.length() - 1) {
          throw new CommandLine.ParameterException(new CommandLine(new CollectorMain()),
              "--source must be LABEL=PATH, got '" + s + "'");
        }
        out.add(new Project.Source(s.substring(0, eq), s.substring(eq + 1), true));
      }
      return out;
    }
  }

  /** {@code agents}: the agent table. */
  @Command(name = "agents", mixinStandardHelpOptions = true,
      description = "Prints the agents: uuid, host, project, last seen, CPU %%, memory %%, status.")
  static final class AgentsCommand implements Callable<Integer> {
    @ParentCommand CollectorMain main;

    @Override
    public Integer call() throws Exception {
      CollectorConfig cfg = main.loadConfig(true);
      List<AgentInfo> agents = AgentRegistry.readTable(cfg.stateDir());
      long now = System.currentTimeMillis();
      PrintWriter out = main.spec.commandLine().getOut();
      out.printf("%-36s %-24s %-12s %-24s %6s %6s %s%n", "AGENT", "HOST", "PROJECT",
          "LAST SEEN", "CPU%", "MEM%", "STATUS");
      for (AgentInfo a : agents) {
        String seen = a.lastHeartbeatMillis() > 0
            ? Instant.ofEpochMilli(a.lastHeartbeatMillis()).toString() : "never";
        String status = a.revoked() ? "revoked"
            : AgentRegistry.isOnline(a, now, cfg.offlineAfter()) ? "online" : "offline";
        out.printf("%-36s %-24s %-12s %-24s %6.1f %6.1f %s%n", a.uuid(), a.hostname(),
            a.projectId(), seen, a.cpu(), a.memory(), status);
      }
      out.flush();
      return 0;
    }
  }

  /** {@code tls init|client}: certificates for a first TLS setup. */
  @Command(
      name = "tls",
      mixinStandardHelpOptions = true,
      description = "Creates a private CA and the certificates for TLS (see README, TLS).",
      subcommands = {TlsCommand.Init.class, TlsCommand.Client.class})
  static final class TlsCommand {
    @ParentCommand CollectorMain main;

    @Command(
        name = "init",
        mixinStandardHelpOptions = true,
        description = {
          "Creates a CA (ca.pem, ca-key.pem) and a server certificate (server.pem,"
              + " server-key.pem) for the given host names and IP addresses, and with --client"
              + " a client certificate per name for mutual TLS (client-NAME.pem,"
              + " client-NAME-key.pem). Keys are written with mode 0600. Refuses to replace"
              + " existing files unless --force.",
          "Then set grpc.tls (and tcp.tls) in collector.yaml; give agents ca.pem."
        })
    static final class Init implements Callable<Integer> {
      @ParentCommand TlsCommand parent;

      @Option(names = "--dir", defaultValue = "config/tls",
          description = "where to write the files (default: ${DEFAULT-VALUE})")
      Path dir;

      @Option(names = "--host", required = true, split = ",",
          description = "names and IP addresses agents use to reach the collector, comma"
              + " separated (e.g. collector.example.com,10.0.0.5)")
      List<String> hosts;

      @Option(names = "--client", split = ",",
          description = "also a client certificate for each of these names (mutual TLS)")
      List<String> clients = new ArrayList<>();

      @Option(names = "--days", defaultValue = "825",
          description = "validity of the server and client certificates (default: ${DEFAULT-VALUE};"
              + " the CA: 3650)")
      long days;

      @Option(names = "--force", description = "replace existing files")
      boolean force;

      @Override
      public Integer call() throws Exception {
        List<Path> written = dev.rlog.collector.tls.TlsInit.init(dir, hosts, clients, force,
            Instant.now(), Duration.ofDays(days));
        PrintWriter out = parent.main.spec.commandLine().getOut();
        for (Path p : written) {
          out.println(p);
        }
        out.flush();
        parent.main.spec.commandLine().getErr().println("CA, server"
            + (clients.isEmpty() ? "" : " and client") + " certificates written to " + dir
            + "; keep " + dir.resolve(dev.rlog.collector.tls.TlsInit.CA_KEY)
            + " private (it can issue certificates)");
        return 0;
      }
    }

    @Command(name = "client", mixinStandardHelpOptions = true,
        description = "Issues one more client certificate with the CA that 'tls init' created.")
    static final class Client implements Callable<Integer> {
      @ParentCommand TlsCommand parent;

      @Parameters(index = "0", description = "client name (letters, digits, . _ -)")
      String name;

      @Option(names = "--dir", defaultValue = "config/tls",
          description = "the directory of ca.pem and ca-key.pem (default: ${DEFAULT-VALUE})")
      Path dir;

      @Option(names = "--days", defaultValue = "825",
          description = "validity (default: ${DEFAULT-VALUE})")
      long days;

      @Option(names = "--force", description = "replace existing files")
      boolean force;

      @Override
      public Integer call() throws Exception {
        List<Path> written = dev.rlog.collector.tls.TlsInit.issueClient(dir, name, force,
            Instant.now(), Duration.ofDays(days));
        PrintWriter out = parent.main.spec.commandLine().getOut();
        for (Path p : written) {
          out.println(p);
        }
        out.flush();
        return 0;
      }
    }
  }

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    CommandLine cl = new CommandLine(new CollectorMain());
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      if (ex instanceof ConfigException || ex instanceof IllegalArgumentException
          || ex instanceof java.nio.file.FileAlreadyExistsException) {
        cmd.getErr().println("rlog-collector: " + ex.getMessage());
        return 2;
      }
      throw ex;
    });
    System.exit(cl.execute(args));
  }
}
