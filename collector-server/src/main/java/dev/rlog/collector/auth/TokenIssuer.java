package dev.rlog.collector.auth;

import dev.rlog.common.time.Clock;
import io.jsonwebtoken.Claims;
import io.jsonwebtoken.ExpiredJwtException;
import io.jsonwebtoken.JwtException;
import io.jsonwebtoken.JwtParser;
import io.jsonwebtoken.Jwts;
import io.jsonwebtoken.security.SecurityException;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;

/**
 * Issues and verifies access tokens: JWTs signed HS256 with the {@link SigningKey}, carrying
 * {@code sub} = agent uuid, {@code prj} = project id, {@code gen} = the agent's token generation,
 * {@code iat}, {@code exp} = issue time + access TTL, and a random {@code jti}. Issue time and
 * the expiry check both read the injected {@link Clock} (no clock skew allowance: issuer and
 * verifier are the same process). JWT times have one-second resolution.
 *
 * <p>Bounds: the access TTL must be in (0, {@link #MAX_ACCESS_TTL}]; tokens longer than
 * {@value #MAX_TOKEN_CHARS} characters are refused as malformed before parsing.
 *
 * <p>Threading: immutable and thread-safe.
 */
public final class TokenIssuer {
  public static final Duration DEFAULT_ACCESS_TTL = Duration.ofMinutes(15);
  public static final Duration MAX_ACCESS_TTL = Duration.ofDays(1);
  public static final int MAX_TOKEN_CHARS = 4096;

  static final String CLAIM_PROJECT = "prj";
  static final String CLAIM_GENERATION = "gen";
  private static final int JTI_BYTES = 16;

  private final SigningKey key;
  private final Clock clock;
  private final Duration accessTtl;
  private final JwtParser parser;

  public TokenIssuer(SigningKey key, Clock clock, Duration accessTtl) {
    if (key == null || clock == null || accessTtl == null) {
      throw new IllegalArgumentException("key, clock and accessTtl are required");
    }
    if (accessTtl.compareTo(Duration.ofSeconds(1)) < 0 || accessTtl.compareTo(MAX_ACCESS_TTL) > 0) {
      throw new IllegalArgumentException(
          "access token TTL must be between 1s and " + MAX_ACCESS_TTL + ", got " + accessTtl);
    }
    this.key = key;
    this.clock = clock;
    this.accessTtl = accessTtl;
    this.parser = Jwts.parser()
        .verifyWith(key.secretKey())
        .clock(() -> new Date(clock.currentTimeMillis()))
        .build();
  }

  /** The clock that issue times and expiry checks read. */
  public Clock clock() {
    return clock;
  }

  public Duration accessTtl() {
    return accessTtl;
  }

  /** A new signed access token for the agent at its current token generation. */
  public String issue(String agentUuid, String projectId, long generation) {
    AgentIdentity identity = new AgentIdentity(agentUuid, projectId); // validates
    Instant now = clock.now();
    return Jwts.builder()
        .subject(identity.agentUuid())
        .claim(CLAIM_PROJECT, identity.projectId())
        .claim(CLAIM_GENERATION, generation)
        .issuedAt(Date.from(now))
        .expiration(Date.from(now.plus(accessTtl)))
        .id(SecretHashes.newSecret(JTI_BYTES))
        .signWith(key.secretKey(), Jwts.SIG.HS256)
        .compact();
  }

  /** Checks signature and expiry; returns who the token was issued to. */
  public AgentIdentity verify(String token) throws InvalidTokenException {
    return verifyClaims(token).identity();
  }

  /** Like {@link #verify} but also returns the generation and expiry the token carries. */
  public VerifiedToken verifyClaims(String token) throws InvalidTokenException {
    if (token == null || token.isBlank()) {
      throw new InvalidTokenException(InvalidTokenException.Reason.MISSING);
    }
    if (token.length() > MAX_TOKEN_CHARS) {
      throw new InvalidTokenException(InvalidTokenException.Reason.MALFORMED);
    }
    try {
      return toVerified(parser.parseSignedClaims(token).getPayload());
    } catch (ExpiredJwtException e) {
      throw new InvalidTokenException(InvalidTokenException.Reason.EXPIRED);
    } catch (SecurityException e) {
      throw new InvalidTokenException(InvalidTokenException.Reason.FORGED);
    } catch (JwtException | IllegalArgumentException e) {
      // Also covers unsigned ("alg":"none") tokens, which jjwt refuses as unsupported.
      throw new InvalidTokenException(InvalidTokenException.Reason.MALFORMED);
    }
  }

  private static VerifiedToken toVerified(Claims claims) throws InvalidTokenException {
    String subject = claims.getSubject();
    Object project = claims.get(CLAIM_PROJECT);
    Object generation = claims.get(CLAIM_GENERATION);
    Date expiration = claims.getExpiration();
    if (subject == null || subject.isEmpty()
        || !(project instanceof String projectId) || projectId.isEmpty()
        || !(generation instanceof Number gen) || expiration == null) {
      throw new InvalidTokenException(InvalidTokenException.Reason.MALFORMED);
    }
    return new VerifiedToken(
        new AgentIdentity(subject, projectId), gen.longValue(), expiration.toInstant());
  }
}
