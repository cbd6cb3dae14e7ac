package dev.rlog.agent.config;

import dev.rlog.agent.auth.HostInfo;
import dev.rlog.agent.auth.Registrar;
import dev.rlog.common.config.ConfigException;
import dev.rlog.common.config.YamlConfig;
import dev.rlog.common.tls.PemException;
import dev.rlog.common.tls.PemFiles;
import dev.rlog.common.tls.TlsFiles;
import dev.rlog.proto.auth.RegisterResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gets the agent its configuration. If {@code config/agent.yaml} exists it is loaded and nothing
 * else happens (no environment needed). Otherwise this is the first start: {@value
 * #ENV_SERVER_ADDR} and {@value #ENV_PROJECT_KEY} come from the environment, the agent registers
 * (hostname, OS, OS version, the agent secret it generates first into {@code state/agent_secret};
 * the stored uuid too if an earlier attempt got that far), and writes
 * {@code state/agent_uuid}, {@code state/token} and, last, {@code config/agent.yaml} with
 * server_addr, project_key, batch_size and flush_interval from the collector's answer,
 * heartbeat_interval 30 and the enabled sources. The config file is written last because its
 * existence is what marks the agent as registered: a crash before it means the next start
 * registers again, reusing the uuid already saved.
 *
 * <p>TLS: {@value #ENV_SERVER_ADDR} {@code https://host:port} registers over TLS, trusting
 * {@value #ENV_TLS_CA} if set (the system CAs otherwise) and presenting {@value #ENV_TLS_CERT} and
 * {@value #ENV_TLS_KEY} if set (mutual TLS). The files are checked before dialling and written to
 * {@code agent.yaml} ({@code tls:}) as absolute paths; setting them with a plaintext address is
 * an error, not a silent downgrade.
 *
 * <p>Errors: a missing variable, a refused project key or an unreachable collector is a {@link
 * FirstStartException}; a bad existing file a {@link ConfigException} naming the file and key.
 * Both mean exit non-zero. Single use, called from the main thread before anything else starts.
 */
public final class FirstStart {
  public static final String ENV_SERVER_ADDR = "SERVER_ADDR";
  public static final String ENV_PROJECT_KEY = "PROJECT_KEY";
  public static final String ENV_TLS_CA = "RLOG_TLS_CA";
  public static final String ENV_TLS_CERT = "RLOG_TLS_CERT";
  public static final String ENV_TLS_KEY = "RLOG_TLS_KEY";
  /** Optional: {@code ship} (default) or {@code send}, written to the config as {@code protocol}. */
  public static final String ENV_PROTOCOL = "RLOG_PROTOCOL";
  /** How long to wait for the registration channel to close. */
  private static final Duration CHANNEL_CLOSE_WAIT = Duration.ofSeconds(5);

  private static final Logger log = LoggerFactory.getLogger(FirstStart.class);

  /**
   * What the agent starts with. {@code accessToken} is the one Register returned (null when the
   * config already existed); hand it to the token manager to save a Refresh.
   */
  public record Result(AgentConfig config, boolean registered, String accessToken) {
    @Override
    public String toString() {
      return "FirstStart.Result[config=" + config + ", registered=" + registered + "]";
    }
  }

  private final Path configFile;
  private final AgentState state;
  private final Map<String, String> env;
  private final Channels channels;
  private final HostInfo host;
  private final Duration deadline;

  /** Opens the registration channel: {@code tls} is null for plaintext or default TLS. */
  @FunctionalInterface
  public interface Channels {
    ManagedChannel open(ServerAddress server, TlsFiles tls) throws IOException;
  }

  /** For callers that dial plaintext only (tests with an in-process collector). */
  public FirstStart(Path configFile, AgentState state, Map<String, String> env,
      Function<ServerAddress, ManagedChannel> channels, HostInfo host, Duration deadline) {
    this(configFile, state, env, channels == null ? null
        : (Channels) (server, tls) -> channels.apply(server), host, deadline);
  }

  /**
   * @param env the process environment ({@code System.getenv()}), injected for tests
   * @param channels opens a channel to the collector; used only for registration and shut down
   *     afterwards
   * @param deadline for the Register call
   */
  public FirstStart(Path configFile, AgentState state, Map<String, String> env,
      Channels channels, HostInfo host, Duration deadline) {
    if (configFile == null || state == null || env == null || channels == null || host == null
        || deadline == null) {
      throw new IllegalArgumentException("all arguments are required");
    }
    this.configFile = configFile;
    this.state = state;
    this.env = Map.copyOf(env);
    this.channels = channels;
    this.host = host;
    this.deadline = deadline;
  }

  /**
   * Loads the config, registering first if there is none.
   *
   * @throws FirstStartException if there is no config and registration is impossible
   * @throws ConfigException if the existing config is invalid (names file and key)
   * @throws IOException if a file cannot be written or a state file is unreadable
   */
  public Result run() throws IOException {
    if (Files.exists(configFile)) {
      return new Result(AgentConfig.load(configFile), false, null);
    }
    String serverText = env(ENV_SERVER_ADDR);
    String projectKey = env(ENV_PROJECT_KEY);
    if (serverText == null || projectKey == null) {
      List<String> missing = new ArrayList<>();
      if (serverText == null) {
        missing.add(ENV_SERVER_ADDR);
      }
      if (projectKey == null) {
        missing.add(ENV_PROJECT_KEY);
      }
      throw new FirstStartException(configFile + " does not exist and " + String.join(" and ", missing)
          + (missing.size() == 1 ? " is" : " are") + " not set: to register this agent, set "
          + ENV_SERVER_ADDR + " (the collector's host:port, or https://host:port for TLS) and "
          + ENV_PROJECT_KEY
          + " (the project's key) in the environment of the first start");
    }
    ServerAddress server;
    try {
      server = ServerAddress.parse(serverText);
    } catch (IllegalArgumentException e) {
      throw new FirstStartException(ENV_SERVER_ADDR + " " + e.getMessage());
    }
    if (projectKey.chars().anyMatch(Character::isISOControl)) {
      throw new FirstStartException(ENV_PROJECT_KEY + " must not contain control characters");
    }

    TlsFiles tls = tlsFromEnv(server);

    Optional<String> earlierUuid = state.readAgentUuid();
    String secret = state.agentSecret(); // generated and saved before it is ever sent
    RegisterResponse r = register(server, tls, projectKey, earlierUuid, secret);

    AgentConfig config = configFrom(server, projectKey, r).withTls(tls);
    // Validate before any file is written (the TLS files are checked again as config).
    try {
      AgentConfig.fromYaml(YamlConfig.parse(configFile, AgentConfigWriter.render(config)));
    } catch (ConfigException e) {
      throw new FirstStartException("cannot use the TLS settings: " + e.getMessage(), false, e);
    }
    state.writeAgentUuid(r.getAgentUuid());
    state.writeRefreshToken(r.getRefreshToken());
    AgentConfigWriter.write(config, configFile);
    log.info("registered with the collector at {} as host {}; wrote {} with {} source(s)",
        server, host.hostname(), configFile, config.sources().size());
    return new Result(config, true, r.getAccessToken());
  }

  /**
   * The TLS files named by the environment, checked; null when none is set. Any of them with a
   * plaintext address is refused: the operator asked for TLS and would not get it.
   */
  private TlsFiles tlsFromEnv(ServerAddress server) {
    Path ca = envPath(ENV_TLS_CA);
    Path cert = envPath(ENV_TLS_CERT);
    Path key = envPath(ENV_TLS_KEY);
    if (ca == null && cert == null && key == null) {
      return null;
    }
    if (!server.tls()) {
      throw new FirstStartException(ENV_TLS_CA + "/" + ENV_TLS_CERT + "/" + ENV_TLS_KEY
          + " are for TLS, but " + ENV_SERVER_ADDR + " '" + server + "' is plaintext: write it as"
          + " https://" + server.authority());
    }
    if ((cert == null) != (key == null)) {
      throw new FirstStartException(ENV_TLS_CERT + " and " + ENV_TLS_KEY
          + " go together (a client certificate and its key)");
    }
    try {
      if (ca != null) {
        PemFiles.readCertificates(ca);
      }
      if (cert != null) {
        if (!PemFiles.matches(PemFiles.readPrivateKey(key),
            PemFiles.readCertificates(cert).get(0))) {
          throw new FirstStartException(ENV_TLS_KEY + " " + key
              + " is not the private key of the certificate in " + cert);
        }
      }
    } catch (PemException e) {
      throw new FirstStartException("a TLS file from the environment: " + e.getMessage());
    }
    return new TlsFiles(cert, key, ca);
  }

  private Path envPath(String name) {
    String v = env(name);
    return v == null ? null : Path.of(v).toAbsolutePath().normalize();
  }

  private RegisterResponse register(ServerAddress server, TlsFiles tls, String projectKey,
      Optional<String> uuid, String secret) throws IOException {
    ManagedChannel channel = channels.open(server, tls);
    try {
      return new Registrar(channel, host, deadline).register(projectKey, uuid, secret);
    } catch (StatusRuntimeException e) {
      Status s = e.getStatus();
      if (s.getCode() == Status.Code.UNAUTHENTICATED) {
        throw new FirstStartException("the collector at " + server + " refused the registration ("
            + s.getDescription() + "): check " + ENV_PROJECT_KEY, false, e);
      }
      if (s.getCode() == Status.Code.INVALID_ARGUMENT) {
        throw new FirstStartException("the collector at " + server
            + " refused the registration request: " + s.getDescription(), false, e);
      }
      throw new FirstStartException("cannot register with the collector at " + server + ": "
          + s.getCode() + (s.getDescription() == null ? "" : " (" + s.getDescription() + ")")
          + "; check " + ENV_SERVER_ADDR + " and that the collector is running", true, e);
    } finally {
      channel.shutdownNow();
      try {
        channel.awaitTermination(CHANNEL_CLOSE_WAIT.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** The first config: the collector's settings where it gave them, our defaults otherwise. */
  private AgentConfig configFrom(ServerAddress server, String projectKey, RegisterResponse r) {
    // proto3 cannot tell 0 from absent; an original-protocol collector may leave them out.
    long batchSize = r.getBatchSize() == 0 ? AgentConfig.DEFAULT_BATCH_SIZE : r.getBatchSize();
    if (batchSize < 1 || batchSize > AgentConfig.MAX_BATCH_SIZE) {
      throw new FirstStartException("the collector at " + server + " sent batch_size "
          + Long.toUnsignedString(r.getBatchSize()) + ", outside 1.." + AgentConfig.MAX_BATCH_SIZE);
    }
    long flushSec = r.getFlushIntervalSec();
    // uint64 on the wire: a negative long is a huge value, out of range like any other.
    if (flushSec < 0 || flushSec > AgentConfig.MAX_FLUSH_INTERVAL.toSeconds()) {
      throw new FirstStartException("the collector at " + server + " sent flush_interval_sec "
          + Long.toUnsignedString(flushSec) + ", outside 1.." + AgentConfig.MAX_FLUSH_INTERVAL.toSeconds());
    }
    Duration flush =
        flushSec == 0 ? AgentConfig.DEFAULT_FLUSH_INTERVAL : Duration.ofSeconds(flushSec);
    List<AgentConfig.Source> sources = new ArrayList<>();
    for (RegisterResponse.Source s : r.getSourcesList()) {
      if (s.getEnabled()) {
        sources.add(new AgentConfig.Source(s.getLabel(), s.getPath()));
      }
    }
    AgentConfig config = new AgentConfig(configFile, server, projectKey,
        (int) batchSize, AgentConfig.DEFAULT_BATCH_MAX_BYTES, flush,
        AgentConfig.DEFAULT_HEARTBEAT_INTERVAL, AgentConfig.DEFAULT_MAX_LINE_BYTES,
        AgentConfig.DEFAULT_MAX_OPEN_FILES, AgentConfig.DEFAULT_START_AT, AgentConfig.Metrics.defaults(), sources);
    String protocol = env(ENV_PROTOCOL);
    if (protocol != null) {
      try {
        config = config.withProtocol(
            AgentConfig.Protocol.valueOf(protocol.toUpperCase(java.util.Locale.ROOT)));
      } catch (IllegalArgumentException e) {
        throw new FirstStartException(ENV_PROTOCOL + " must be ship or send, got '" + protocol
            + "'", false, e);
      }
    }
    // Validate before any file is written, so a bad answer leaves no half-registered state.
    try {
      return AgentConfig.fromYaml(YamlConfig.parse(configFile, AgentConfigWriter.render(config)));
    } catch (ConfigException e) {
      throw new FirstStartException("the collector at " + server
          + " sent settings this agent cannot use: " + e.getMessage(), false, e);
    }
  }

  private String env(String name) {
    String v = env.get(name);
    return v == null || v.isBlank() ? null : v.strip();
  }
}
