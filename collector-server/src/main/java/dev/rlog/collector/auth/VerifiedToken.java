package dev.rlog.collector.auth;

import java.time.Instant;

/**
 * The content of an access token whose signature and lifetime were checked. {@code generation}
 * is the agent's token generation at issue time ({@code gen} claim); the token is still valid
 * only while the agent's current generation is the same (see
 * {@link AgentRegistry#isTokenCurrent}).
 */
public record VerifiedToken(AgentIdentity identity, long generation, Instant expiresAt) {}
