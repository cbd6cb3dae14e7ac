package dev.rlog.collector.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.proto.auth.RefreshRequest;
import dev.rlog.proto.auth.RefreshResponse;
import dev.rlog.proto.auth.RegisterRequest;
import dev.rlog.proto.auth.RegisterResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuthServiceImplTest {
  @TempDir Path stateDir;
  private AuthRig rig;
  private String key;

  @BeforeEach
  void setUp() throws Exception {
    rig = new AuthRig(stateDir);
    key = rig.projects.create("web", 500, 5, "Europe/Paris",
        List.of(new Project.Source("nginx", "/var/log/nginx/access.log", true)));
  }

  @AfterEach
  void tearDown() throws Exception {
    rig.close();
  }

  @Test
  void registerWithTheProjectKeyReturnsTokensAndSettings() throws Exception {
    RegisterResponse r = rig.auth().register(request(key, "host-1"));

    assertThat(r.getSuccess()).isTrue();
    assertThat(r.getAgentUuid()).isNotEmpty();
    assertThat(r.getTimezone()).isEqualTo("Europe/Paris");
    assertThat(r.getBatchSize()).isEqualTo(500);
    assertThat(r.getFlushIntervalSec()).isEqualTo(5);
    assertThat(r.getSourcesList()).containsExactly(RegisterResponse.Source.newBuilder()
        .setLabel("nginx").setPath("/var/log/nginx/access.log").setEnabled(true).build());

    rig.heartbeat("Bearer " + r.getAccessToken());
    assertThat(rig.health.identity).hasValue(new AgentIdentity(r.getAgentUuid(), "web"));
  }

  @Test
  void stateFilesAreOwnerOnlyAndHoldNoPlainSecret() throws Exception {
    RegisterResponse r = rig.auth().register(request(key, "host-1"));
    RefreshResponse refreshed = rig.auth().refresh(refresh(r.getRefreshToken()));

    for (String name : List.of(ProjectRegistry.FILE_NAME, AgentRegistry.FILE_NAME, SigningKey.FILE_NAME)) {
      Path file = stateDir.resolve(name);
      assertThat(Files.getPosixFilePermissions(file)).as(name)
          .isEqualTo(java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
      assertThat(Files.readString(file)).as(name)
          .doesNotContain(key)
          .doesNotContain(r.getRefreshToken())
          .doesNotContain(refreshed.getRefreshToken())
          .doesNotContain(r.getAccessToken());
    }
  }

  @Test
  void wrongProjectKeyIsUnauthenticatedWithoutHint() {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> rig.auth().register(request(key + "x", "host-1")));

    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(e.getStatus().getDescription()).isEqualTo("invalid project key");
    assertThat(rig.agents.snapshot()).isEmpty();
  }

  @Test
  void emptyOrOversizedFieldsAreInvalidArguments() {
    assertInvalid(request("", "host-1"), "project_key");
    assertInvalid(request(key, ""), "hostname");
    assertInvalid(request(key, "h".repeat(256)), "hostname");
    assertInvalid(request(key, "host\n1"), "hostname");
    assertInvalid(request(key, "host-1").toBuilder().setOs("").build(), "os");
    assertInvalid(request(key, "host-1").toBuilder().setAgentUuid("u".repeat(65)).build(), "agent_uuid");
    assertThat(rig.auth().register(request(key, "h".repeat(255))).getSuccess()).isTrue();

    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> rig.auth().refresh(refresh("")));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
  }

  @Test
  void registerAgainKeepsTheUuid() {
    RegisterResponse first = rig.auth().register(request(key, "host-1"));
    RegisterResponse again = rig.auth().register(
        request(key, "host-1").toBuilder().setAgentUuid(first.getAgentUuid()).build());
    assertThat(again.getAgentUuid()).isEqualTo(first.getAgentUuid());
  }

  @Test
  void refreshRotatesAndTheNewAccessTokenWorks() {
    RegisterResponse r = rig.auth().register(request(key, "host-1"));

    RefreshResponse refreshed = rig.auth().refresh(refresh(r.getRefreshToken()));

    assertThat(refreshed.getSuccess()).isTrue();
    assertThat(refreshed.getRefreshToken()).isNotEqualTo(r.getRefreshToken());
    rig.heartbeat("Bearer " + refreshed.getAccessToken());
    assertThat(rig.health.calls).hasValue(1);
  }

  @Test
  void reusedRefreshTokenRevokesAndOldAccessTokensAreRefused() {
    RegisterResponse r = rig.auth().register(request(key, "host-1"));
    RefreshResponse refreshed = rig.auth().refresh(refresh(r.getRefreshToken()));

    StatusRuntimeException reuse = assertThrows(StatusRuntimeException.class,
        () -> rig.auth().refresh(refresh(r.getRefreshToken())));
    assertThat(reuse.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(reuse.getStatus().getDescription()).isEqualTo("invalid refresh token");

    for (String access : List.of(r.getAccessToken(), refreshed.getAccessToken())) {
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
          () -> rig.heartbeat("Bearer " + access));
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
      assertThat(e.getStatus().getDescription()).isEqualTo("access token revoked");
    }
    assertThat(rig.health.calls).hasValue(0);

    // The agent's fallback: register again with its uuid.
    RegisterResponse back = rig.auth().register(
        request(key, "host-1").toBuilder().setAgentUuid(r.getAgentUuid()).build());
    rig.heartbeat("Bearer " + back.getAccessToken());
    assertThat(rig.health.identity).hasValue(new AgentIdentity(r.getAgentUuid(), "web"));
  }

  @Test
  void aUuidRegisteredWithASecretIsKeptOnlyForThatSecret() {
    String secret = SecretHashes.newSecret(32);
    RegisterResponse first = rig.auth().register(request(key, "host-1").toBuilder()
        .setAgentSecret(secret).build());

    RegisterResponse same = rig.auth().register(request(key, "host-1").toBuilder()
        .setAgentUuid(first.getAgentUuid()).setAgentSecret(secret).build());
    RegisterResponse without = rig.auth().register(request(key, "thief").toBuilder()
        .setAgentUuid(first.getAgentUuid()).build());

    assertThat(same.getAgentUuid()).isEqualTo(first.getAgentUuid());
    // Refused as an unknown uuid is: a fresh uuid, success, nothing about the other agent.
    assertThat(without.getSuccess()).isTrue();
    assertThat(without.getAgentUuid()).isNotEqualTo(first.getAgentUuid());
    assertThat(rig.agents.identityRefusals()).isEqualTo(1);
    rig.heartbeat("Bearer " + same.getAccessToken()); // the thief's registration killed nothing
  }

  @Test
  void aShortOrControlCharacterSecretIsInvalidAndNotEchoed() {
    String shortSecret = "tooShort123";
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> rig.auth().register(request(key, "h").toBuilder().setAgentSecret(shortSecret).build()));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(e.getStatus().getDescription()).startsWith("agent_secret ")
        .doesNotContain(shortSecret);
    assertInvalid(request(key, "h").toBuilder()
        .setAgentSecret("a-long-enough-secret\n" + "x".repeat(20)).build(), "agent_secret");
    assertInvalid(request(key, "h").toBuilder()
        .setAgentSecret("x".repeat(AuthServiceImpl.MAX_AGENT_SECRET_CHARS + 1)).build(),
        "agent_secret");
  }

  @Test
  void unknownRefreshTokenIsUnauthenticated() {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> rig.auth().refresh(refresh("rlr_made-up")));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
  }

  @Test
  void aFailedStateWriteIsUnavailableAndTheRetryWithTheSameTokenWorks() throws Exception {
    rig.close();
    AgentRegistryTest.FailingWriter writer = new AgentRegistryTest.FailingWriter();
    rig = new AuthRig(stateDir, writer);
    RegisterResponse r = rig.auth().register(request(key, "host-1"));

    writer.failing = true;
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> rig.auth().refresh(refresh(r.getRefreshToken())));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    StatusRuntimeException reg = assertThrows(StatusRuntimeException.class,
        () -> rig.auth().register(request(key, "host-1").toBuilder()
            .setAgentUuid(r.getAgentUuid()).build()));
    assertThat(reg.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    rig.heartbeat("Bearer " + r.getAccessToken()); // nothing was revoked

    writer.failing = false;
    RefreshResponse retried = rig.auth().refresh(refresh(r.getRefreshToken()));
    assertThat(retried.getSuccess()).isTrue();
    rig.heartbeat("Bearer " + retried.getAccessToken());
    assertThat(rig.agents.find(r.getAgentUuid()).orElseThrow().revoked()).isFalse();
  }

  private void assertInvalid(RegisterRequest request, String field) {
    StatusRuntimeException e =
        assertThrows(StatusRuntimeException.class, () -> rig.auth().register(request));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(e.getStatus().getDescription()).startsWith(field + " ");
  }

  private static RegisterRequest request(String projectKey, String hostname) {
    return RegisterRequest.newBuilder().setProjectKey(projectKey).setHostname(hostname)
        .setOs("linux").setOsVersion("6.1").build();
  }

  private static RefreshRequest refresh(String token) {
    return RefreshRequest.newBuilder().setRefreshToken(token).build();
  }
}
