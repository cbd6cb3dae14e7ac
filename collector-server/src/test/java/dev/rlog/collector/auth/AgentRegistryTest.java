package dev.rlog.collector.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.rlog.collector.auth.RefreshRejectedException.Reason;
import dev.rlog.common.time.FakeClock;
import dev.rlog.proto.auth.RegisterRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AgentRegistryTest {
  @TempDir Path stateDir;
  private final FakeClock clock = new FakeClock();
  private final TokenIssuer issuer =
      new TokenIssuer(SigningKey.generate(), clock, Duration.ofMinutes(15));
  private final Project web = project("web");
  private final Project db = project("db");
  private AgentRegistry agents;

  @BeforeEach
  void open() throws Exception {
    agents = AgentRegistry.open(stateDir, clock, issuer);
  }

  @Test
  void registerIssuesTokensAndPersistsOnlyHashes() throws Exception {
    IssuedTokens t = agents.register(web, request("host-1", null));

    assertThat(t.refreshToken()).startsWith(AgentRegistry.REFRESH_PREFIX);
    assertThat(issuer.verify(t.accessToken())).isEqualTo(new AgentIdentity(t.agentUuid(), "web"));
    assertThat(t.toString()).doesNotContain(t.refreshToken()).doesNotContain(t.accessToken());

    Path file = stateDir.resolve(AgentRegistry.FILE_NAME);
    assertThat(Files.getPosixFilePermissions(file))
        .isEqualTo(PosixFilePermissions.fromString("rw-------"));
    String content = Files.readString(file);
    assertThat(content).contains(t.agentUuid()).contains(SecretHashes.sha256Hex(t.refreshToken()))
        .doesNotContain(t.refreshToken()).doesNotContain(t.refreshToken().substring(4));

    AgentInfo info = AgentRegistry.readTable(stateDir).get(0);
    assertThat(info.uuid()).isEqualTo(t.agentUuid());
    assertThat(info.hostname()).isEqualTo("host-1");
    assertThat(info.registeredAtMillis()).isEqualTo(clock.currentTimeMillis());
  }

  @Test
  void registerReusesTheUuidOfTheSameProjectOnly() throws Exception {
    IssuedTokens first = agents.register(web, request("host-1", null));

    IssuedTokens again = agents.register(web, request("host-1b", first.agentUuid().toUpperCase()));
    assertThat(again.agentUuid()).isEqualTo(first.agentUuid());
    assertThat(agents.snapshot()).singleElement()
        .satisfies(a -> assertThat(a.hostname()).isEqualTo("host-1b"));

    IssuedTokens other = agents.register(db, request("host-1", first.agentUuid()));
    assertThat(other.agentUuid()).isNotEqualTo(first.agentUuid());

    IssuedTokens unknown = agents.register(web, request("host-2", "0f8e0b57-5a43-4a0c-9d1a-3c1f2e9f0a11"));
    assertThat(unknown.agentUuid()).isNotIn(first.agentUuid(), "0f8e0b57-5a43-4a0c-9d1a-3c1f2e9f0a11");
    assertThat(agents.register(web, request("host-3", "not-a-uuid")).agentUuid()).isNotEqualTo("not-a-uuid");
    assertThat(agents.snapshot()).hasSize(4);
  }

  @Test
  void reRegisteringStartsANewGeneration() throws Exception {
    IssuedTokens first = agents.register(web, request("host-1", null));
    VerifiedToken before = issuer.verifyClaims(first.accessToken());

    IssuedTokens again = agents.register(web, request("host-1", first.agentUuid()));

    assertThat(agents.isTokenCurrent(first.agentUuid(), "web", before.generation())).isFalse();
    VerifiedToken after = issuer.verifyClaims(again.accessToken());
    assertThat(agents.isTokenCurrent(first.agentUuid(), "web", after.generation())).isTrue();
    assertThat(agents.isTokenCurrent(first.agentUuid(), "db", after.generation())).isFalse();
  }

  @Test
  void refreshRotatesTheRefreshToken() throws Exception {
    IssuedTokens t0 = agents.register(web, request("host-1", null));

    IssuedTokens t1 = agents.refresh(t0.refreshToken());
    IssuedTokens t2 = agents.refresh(t1.refreshToken());

    assertThat(t1.agentUuid()).isEqualTo(t0.agentUuid());
    assertThat(t2.refreshToken()).isNotIn(t0.refreshToken(), t1.refreshToken());
    VerifiedToken access = issuer.verifyClaims(t2.accessToken());
    assertThat(agents.isTokenCurrent(t0.agentUuid(), "web", access.generation())).isTrue();
    // An access token issued before a normal refresh stays valid until it expires.
    VerifiedToken older = issuer.verifyClaims(t0.accessToken());
    assertThat(agents.isTokenCurrent(t0.agentUuid(), "web", older.generation())).isTrue();
  }

  @Test
  void reuseOfAReplacedRefreshTokenRevokesTheAgent() throws Exception {
    IssuedTokens t0 = agents.register(web, request("host-1", null));
    IssuedTokens t1 = agents.refresh(t0.refreshToken());
    long generation = issuer.verifyClaims(t1.accessToken()).generation();

    RefreshRejectedException e =
        assertThrows(RefreshRejectedException.class, () -> agents.refresh(t0.refreshToken()));
    assertThat(e.reason()).isEqualTo(Reason.REUSED);
    assertThat(e.getMessage()).doesNotContain(t0.refreshToken());

    assertThat(agents.isTokenCurrent(t1.agentUuid(), "web", generation)).isFalse();
    assertThat(agents.find(t1.agentUuid()).orElseThrow().revoked()).isTrue();
    assertThrows(RefreshRejectedException.class, () -> agents.refresh(t1.refreshToken()));
    // Persisted: a restarted collector still refuses it.
    AgentRegistry reopened = AgentRegistry.open(stateDir, clock, issuer);
    assertThat(reopened.isTokenCurrent(t1.agentUuid(), "web", generation)).isFalse();

    // The agent recovers by registering again with its uuid and project key.
    IssuedTokens back = agents.register(web, request("host-1", t0.agentUuid()));
    assertThat(back.agentUuid()).isEqualTo(t0.agentUuid());
    assertThat(agents.find(back.agentUuid()).orElseThrow().revoked()).isFalse();
    assertThat(agents.refresh(back.refreshToken()).agentUuid()).isEqualTo(t0.agentUuid());
  }

  @Test
  void unknownRefreshTokenIsRefused() {
    assertThat(assertThrows(RefreshRejectedException.class, () -> agents.refresh("rlr_nope")).reason())
        .isEqualTo(Reason.UNKNOWN);
    assertThat(assertThrows(RefreshRejectedException.class, () -> agents.refresh("")).reason())
        .isEqualTo(Reason.UNKNOWN);
    assertThat(assertThrows(RefreshRejectedException.class, () -> agents.refresh(null)).reason())
        .isEqualTo(Reason.UNKNOWN);
  }

  @Test
  void refreshTokensSurviveARestart() throws Exception {
    IssuedTokens t0 = agents.register(web, request("host-1", null));
    agents.close();

    AgentRegistry restarted = AgentRegistry.open(stateDir, clock, issuer);
    IssuedTokens t1 = restarted.refresh(t0.refreshToken());
    assertThat(t1.agentUuid()).isEqualTo(t0.agentUuid());
  }

  @Test
  void previousRefreshHashesAreBounded() throws Exception {
    IssuedTokens t = agents.register(web, request("host-1", null));
    String first = t.refreshToken();
    for (int i = 0; i < AgentRegistry.PREVIOUS_REFRESH_HASHES + 4; i++) {
      t = agents.refresh(t.refreshToken());
    }
    JsonNode agent = new ObjectMapper()
        .readTree(stateDir.resolve(AgentRegistry.FILE_NAME).toFile()).get("agents").get(0);
    assertThat(agent.get("previous_refresh_hashes")).hasSize(AgentRegistry.PREVIOUS_REFRESH_HASHES);
    // Too old to be recognised: refused as unknown, the agent is not revoked.
    assertThat(assertThrows(RefreshRejectedException.class, () -> agents.refresh(first)).reason())
        .isEqualTo(Reason.UNKNOWN);
    assertThat(agents.refresh(t.refreshToken()).agentUuid()).isEqualTo(t.agentUuid());
  }

  @Test
  void rotateRefreshRetiresTheCurrentToken() throws Exception {
    IssuedTokens t0 = agents.register(web, request("host-1", null));
    String rotated = agents.rotateRefresh(t0.agentUuid());

    assertThat(agents.refresh(rotated).agentUuid()).isEqualTo(t0.agentUuid());
    assertThrows(IllegalArgumentException.class, () -> agents.rotateRefresh("nope"));
  }

  @Test
  void heartbeatsAreWrittenOnlyByFlush() throws Exception {
    IssuedTokens t = agents.register(web, request("host-1", null));
    assertThat(agents.flushIfDirty()).isFalse();

    clock.advance(Duration.ofSeconds(30));
    assertThat(agents.heartbeat(t.agentUuid(), clock.currentTimeMillis(), 12.5, 40)).isTrue();
    assertThat(agents.find(t.agentUuid()).orElseThrow().cpu()).isEqualTo(12.5);
    assertThat(AgentRegistry.readTable(stateDir).get(0).lastHeartbeatMillis()).isZero();

    assertThat(agents.flushIfDirty()).isTrue();
    AgentInfo row = AgentRegistry.readTable(stateDir).get(0);
    assertThat(row.lastHeartbeatMillis()).isEqualTo(clock.currentTimeMillis());
    assertThat(row.memory()).isEqualTo(40);
    assertThat(agents.flushIfDirty()).isFalse();

    agents.heartbeat(t.agentUuid(), clock.currentTimeMillis(), 13, 41);
    agents.close();
    assertThat(AgentRegistry.readTable(stateDir).get(0).cpu()).isEqualTo(13);
  }

  @Test
  void heartbeatOfUnknownAgentOrBadValuesIsRefused() throws Exception {
    IssuedTokens t = agents.register(web, request("host-1", null));
    assertThat(agents.heartbeat("nope", 1, 1, 1)).isFalse();
    assertThrows(IllegalArgumentException.class, () -> agents.heartbeat(t.agentUuid(), 1, -1, 1));
    assertThrows(IllegalArgumentException.class, () -> agents.heartbeat(t.agentUuid(), 1, 1, 100.5));
    assertThrows(IllegalArgumentException.class, () -> agents.heartbeat(t.agentUuid(), 1, Double.NaN, 1));
  }

  @Test
  void onlineMeansARecentHeartbeat() throws Exception {
    IssuedTokens t = agents.register(web, request("host-1", null));
    Duration offlineAfter = Duration.ofSeconds(90);
    assertThat(AgentRegistry.isOnline(agents.snapshot().get(0), clock.currentTimeMillis(), offlineAfter))
        .isFalse();

    agents.heartbeat(t.agentUuid(), clock.currentTimeMillis(), 1, 1);
    AgentInfo row = agents.snapshot().get(0);
    clock.advance(offlineAfter);
    assertThat(AgentRegistry.isOnline(row, clock.currentTimeMillis(), offlineAfter)).isTrue();
    clock.advance(Duration.ofMillis(1));
    assertThat(AgentRegistry.isOnline(row, clock.currentTimeMillis(), offlineAfter)).isFalse();
  }

  @Test
  void countsForMetricsAgreeWithTheSnapshot() throws Exception {
    Duration offlineAfter = Duration.ofSeconds(90);
    IssuedTokens a = agents.register(web, request("host-1", null));
    agents.register(web, request("host-2", null));
    IssuedTokens c = agents.register(web, request("host-3", null));
    assertThat(agents.size()).isEqualTo(3);
    assertThat(agents.countOnline(clock.currentTimeMillis(), offlineAfter)).isZero();

    agents.heartbeat(a.agentUuid(), clock.currentTimeMillis(), 1, 1);
    clock.advance(Duration.ofSeconds(60));
    agents.heartbeat(c.agentUuid(), clock.currentTimeMillis(), 1, 1);
    long now = clock.currentTimeMillis();
    assertThat(agents.countOnline(now, offlineAfter)).isEqualTo(2)
        .isEqualTo(agents.snapshot().stream()
            .filter(r -> AgentRegistry.isOnline(r, now, offlineAfter)).count());

    clock.advance(Duration.ofSeconds(31)); // a's heartbeat is 91 s old, c's 31 s
    assertThat(agents.countOnline(clock.currentTimeMillis(), offlineAfter)).isEqualTo(1);
  }

  @Test
  void snapshotIsAnImmutableCopy() throws Exception {
    IssuedTokens t = agents.register(web, request("host-1", null));
    List<AgentInfo> before = agents.snapshot();
    agents.heartbeat(t.agentUuid(), 5, 1, 1);

    assertThat(before.get(0).lastHeartbeatMillis()).isZero();
    assertThrows(UnsupportedOperationException.class, () -> before.clear());
  }

  @Test
  void aUuidRegisteredWithASecretIsKeptOnlyWithThatSecret() throws Exception {
    String secret = SecretHashes.newSecret(32);
    IssuedTokens victim = agents.register(web, request("victim", null, secret));
    long generation = issuer.verifyClaims(victim.accessToken()).generation();

    IssuedTokens noSecret = agents.register(web, request("thief", victim.agentUuid()));
    IssuedTokens wrongSecret = agents.register(web,
        request("thief", victim.agentUuid(), SecretHashes.newSecret(32)));

    assertThat(noSecret.agentUuid()).isNotEqualTo(victim.agentUuid());
    assertThat(wrongSecret.agentUuid()).isNotIn(victim.agentUuid(), noSecret.agentUuid());
    assertThat(agents.identityRefusals()).isEqualTo(2);
    // The victim was not touched: same host, its tokens still good.
    assertThat(agents.find(victim.agentUuid()).orElseThrow().hostname()).isEqualTo("victim");
    assertThat(agents.isTokenCurrent(victim.agentUuid(), "web", generation)).isTrue();
    assertThat(agents.refresh(victim.refreshToken()).agentUuid()).isEqualTo(victim.agentUuid());

    IssuedTokens back = agents.register(web, request("victim", victim.agentUuid(), secret));
    assertThat(back.agentUuid()).isEqualTo(victim.agentUuid());
    assertThat(agents.identityRefusals()).isEqualTo(2);

    // Only the hash is stored, and it survives a restart.
    String content = Files.readString(stateDir.resolve(AgentRegistry.FILE_NAME));
    assertThat(content).contains(SecretHashes.sha256Hex(secret)).doesNotContain(secret);
    AgentRegistry restarted = AgentRegistry.open(stateDir, clock, issuer);
    assertThat(restarted.register(web, request("thief", victim.agentUuid())).agentUuid())
        .isNotEqualTo(victim.agentUuid());
    assertThat(restarted.register(web, request("victim", victim.agentUuid(), secret)).agentUuid())
        .isEqualTo(victim.agentUuid());
    assertThat(restarted.find(victim.agentUuid()).orElseThrow().hasSecret()).isTrue();
  }

  @Test
  void aSecretlessUuidKeepsTheOriginalRuleAndCannotBeClaimedWithASecret() throws Exception {
    IssuedTokens original = agents.register(web, request("old-agent", null));
    assertThat(agents.find(original.agentUuid()).orElseThrow().hasSecret()).isFalse();

    assertThat(agents.register(web, request("old-agent", original.agentUuid())).agentUuid())
        .isEqualTo(original.agentUuid());
    IssuedTokens claim = agents.register(web,
        request("claimer", original.agentUuid(), SecretHashes.newSecret(32)));
    assertThat(claim.agentUuid()).isNotEqualTo(original.agentUuid());
    assertThat(agents.identityRefusals()).isEqualTo(1);
    // The original agent is not locked out.
    assertThat(agents.register(web, request("old-agent", original.agentUuid())).agentUuid())
        .isEqualTo(original.agentUuid());
    assertThat(agents.find(original.agentUuid()).orElseThrow().hasSecret()).isFalse();
  }

  @Test
  void aFailedWriteOfARefreshLeavesTheTokensAsTheyWere() throws Exception {
    FailingWriter writer = new FailingWriter();
    AgentRegistry reg = AgentRegistry.open(stateDir.resolve("w"), clock, issuer, writer);
    IssuedTokens t0 = reg.register(web, request("host-1", null, SecretHashes.newSecret(32)));
    long generation = issuer.verifyClaims(t0.accessToken()).generation();
    String fileBefore = Files.readString(stateDir.resolve("w").resolve(AgentRegistry.FILE_NAME));

    writer.failing = true;
    assertThrows(java.io.IOException.class, () -> reg.refresh(t0.refreshToken()));
    assertThrows(java.io.IOException.class, () -> reg.rotateRefresh(t0.agentUuid()));
    assertThat(Files.readString(stateDir.resolve("w").resolve(AgentRegistry.FILE_NAME)))
        .isEqualTo(fileBefore);

    writer.failing = false;
    // The retry with the same token is honoured, not taken for reuse.
    IssuedTokens t1 = reg.refresh(t0.refreshToken());
    assertThat(t1.agentUuid()).isEqualTo(t0.agentUuid());
    assertThat(reg.find(t0.agentUuid()).orElseThrow().revoked()).isFalse();
    assertThat(reg.isTokenCurrent(t0.agentUuid(), "web", generation)).isTrue();
  }

  @Test
  void aFailedWriteOfARegistrationChangesNothing() throws Exception {
    FailingWriter writer = new FailingWriter();
    AgentRegistry reg = AgentRegistry.open(stateDir.resolve("w"), clock, issuer, writer);
    String secret = SecretHashes.newSecret(32);
    IssuedTokens t0 = reg.register(web, request("host-1", null, secret));
    long generation = issuer.verifyClaims(t0.accessToken()).generation();
    reg.heartbeat(t0.agentUuid(), 1234, 5, 6);

    writer.failing = true;
    assertThrows(java.io.IOException.class,
        () -> reg.register(web, request("host-2", t0.agentUuid(), secret)));
    assertThrows(java.io.IOException.class, () -> reg.register(web, request("new", null)));

    assertThat(reg.snapshot()).singleElement().satisfies(a -> {
      assertThat(a.hostname()).isEqualTo("host-1");
      assertThat(a.tokenGeneration()).isEqualTo(generation);
      assertThat(a.lastHeartbeatMillis()).isEqualTo(1234);
    });
    assertThat(reg.isTokenCurrent(t0.agentUuid(), "web", generation)).isTrue();

    writer.failing = false;
    // Both old tokens still work, and the table still reaches the disk.
    assertThat(reg.refresh(t0.refreshToken()).agentUuid()).isEqualTo(t0.agentUuid());
    assertThat(AgentRegistry.readTable(stateDir.resolve("w"))).singleElement()
        .satisfies(a -> assertThat(a.lastHeartbeatMillis()).isEqualTo(1234));
  }

  @Test
  void aRevocationTakesEffectEvenIfItsWriteFails() throws Exception {
    FailingWriter writer = new FailingWriter();
    AgentRegistry reg = AgentRegistry.open(stateDir.resolve("w"), clock, issuer, writer);
    IssuedTokens t0 = reg.register(web, request("host-1", null));
    IssuedTokens t1 = reg.refresh(t0.refreshToken());

    writer.failing = true;
    RefreshRejectedException e =
        assertThrows(RefreshRejectedException.class, () -> reg.refresh(t0.refreshToken()));
    assertThat(e.reason()).isEqualTo(Reason.REUSED);
    assertThat(reg.find(t0.agentUuid()).orElseThrow().revoked()).isTrue();
    assertThrows(RefreshRejectedException.class, () -> reg.refresh(t1.refreshToken()));

    writer.failing = false;
    assertThat(reg.flushIfDirty()).isTrue();
    assertThat(AgentRegistry.readTable(stateDir.resolve("w"))).singleElement()
        .satisfies(a -> assertThat(a.revoked()).isTrue());
  }

  @Test
  void readTableOfAnEmptyStateDirIsEmpty() throws Exception {
    assertThat(AgentRegistry.readTable(stateDir)).isEmpty();
  }

  static Project project(String id) {
    return new Project(id, SecretHashes.sha256Hex("key-" + id), 1000, 10, "UTC", List.of());
  }

  static RegisterRequest request(String hostname, String uuid) {
    return request(hostname, uuid, null);
  }

  static RegisterRequest request(String hostname, String uuid, String secret) {
    RegisterRequest.Builder b = RegisterRequest.newBuilder()
        .setProjectKey("ignored-here").setHostname(hostname).setOs("linux").setOsVersion("6.1");
    if (uuid != null) {
      b.setAgentUuid(uuid);
    }
    if (secret != null) {
      b.setAgentSecret(secret);
    }
    return b.build();
  }

  /** Writes like the collector until told to fail, as a full disk would. */
  static final class FailingWriter implements StateFileWriter {
    volatile boolean failing;
    int writes;

    @Override
    public void write(Path file, byte[] content) throws java.io.IOException {
      if (failing) {
        throw new java.io.IOException("No space left on device");
      }
      writes++;
      StateFileWriter.ATOMIC_SECRET.write(file, content);
    }
  }
}
