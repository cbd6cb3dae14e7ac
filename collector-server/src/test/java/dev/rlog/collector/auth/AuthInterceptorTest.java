package dev.rlog.collector.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.rlog.collector.auth.InvalidTokenException.Reason;
import dev.rlog.proto.auth.RegisterRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuthInterceptorTest {
  @TempDir Path stateDir;
  private AuthRig rig;
  private IssuedTokens tokens;

  @BeforeEach
  void setUp() throws Exception {
    rig = new AuthRig(stateDir);
    rig.projects.create("web");
    tokens = rig.agents.register(rig.projects.find("web").orElseThrow(), RegisterRequest.newBuilder()
        .setHostname("host-1").setOs("linux").setOsVersion("6.1").build());
  }

  @AfterEach
  void tearDown() throws Exception {
    rig.close();
  }

  @Test
  void validTokenReachesTheServiceWithTheIdentityInContext() {
    rig.heartbeat("Bearer " + tokens.accessToken());

    assertThat(rig.health.calls).hasValue(1);
    assertThat(rig.health.identity).hasValue(new AgentIdentity(tokens.agentUuid(), "web"));
    assertThat(rig.interceptor.rejected()).isZero();
  }

  @Test
  void schemeIsCaseInsensitive() {
    rig.heartbeat("bearer " + tokens.accessToken());
    assertThat(rig.health.calls).hasValue(1);
  }

  @Test
  void missingTokenIsUnauthenticated() {
    assertRefused(null, "missing access token");
    assertRefused("Bearer ", "missing access token");
    assertThat(rig.interceptor.rejected(Reason.MISSING)).isEqualTo(2);
  }

  @Test
  void forgedTokenIsUnauthenticated() {
    String forged = new TokenIssuer(SigningKey.generate(), rig.clock, AuthRig.TTL)
        .issue(tokens.agentUuid(), "web", 0);
    assertRefused("Bearer " + forged, "access token signature is invalid");
    assertThat(rig.interceptor.rejected(Reason.FORGED)).isEqualTo(1);
  }

  @Test
  void expiredTokenIsUnauthenticated() {
    rig.clock.advance(AuthRig.TTL.plus(Duration.ofSeconds(1)));
    assertRefused("Bearer " + tokens.accessToken(), "access token expired");
  }

  @Test
  void otherSchemesAndGarbageAreMalformed() {
    assertRefused("Basic dXNlcjpwYXNz", "malformed access token");
    assertRefused(tokens.accessToken(), "malformed access token");
    assertRefused("Bearer not.a.jwt", "malformed access token");
  }

  @Test
  void tokenOfARevokedAgentIsUnauthenticated() throws Exception {
    IssuedTokens rotated = rig.agents.refresh(tokens.refreshToken());
    assertThrows(RefreshRejectedException.class, () -> rig.agents.refresh(tokens.refreshToken()));

    assertRefused("Bearer " + tokens.accessToken(), "access token revoked");
    assertRefused("Bearer " + rotated.accessToken(), "access token revoked");
    assertThat(rig.interceptor.rejected()).isEqualTo(2);
  }

  @Test
  void recheckSeesExpiryAndRevocationOfATokenThatLetACallIn() throws Exception {
    VerifiedToken token = rig.issuer.verifyClaims(tokens.accessToken());
    assertThat(rig.interceptor.recheck(token)).isNull();

    rig.clock.advance(AuthRig.TTL.minusSeconds(1));
    assertThat(rig.interceptor.recheck(token)).isNull();
    rig.clock.advance(Duration.ofSeconds(1));
    assertThat(rig.interceptor.recheck(token)).isEqualTo(Reason.EXPIRED);

    IssuedTokens again = rig.agents.register(rig.projects.find("web").orElseThrow(),
        RegisterRequest.newBuilder().setHostname("host-1").setOs("linux").setOsVersion("6.1")
            .setAgentUuid(tokens.agentUuid()).build());
    VerifiedToken fresh = rig.issuer.verifyClaims(again.accessToken());
    assertThat(rig.interceptor.recheck(fresh)).isNull();
    rig.agents.refresh(again.refreshToken());
    assertThrows(RefreshRejectedException.class, () -> rig.agents.refresh(again.refreshToken()));
    assertThat(rig.interceptor.recheck(fresh)).isEqualTo(Reason.REVOKED);
  }

  private void assertRefused(String authorization, String description) {
    int callsBefore = rig.health.calls.get();
    StatusRuntimeException e =
        assertThrows(StatusRuntimeException.class, () -> rig.heartbeat(authorization));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
    assertThat(e.getStatus().getDescription()).isEqualTo(description);
    assertThat(rig.health.calls).hasValue(callsBefore);
  }
}
