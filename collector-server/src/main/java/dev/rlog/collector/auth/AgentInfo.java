package dev.rlog.collector.auth;

/**
 * One row of the agents table: an immutable copy of what the collector knows about an agent,
 * without any secret. {@code lastHeartbeatMillis} is 0 until the first heartbeat; cpu and memory
 * are percent (0-100) from the last heartbeat. {@code revoked} is set when reuse of a replaced
 * refresh token was detected and cleared when the agent registers again. {@code hasSecret} is
 * true for an agent that registered with an agent secret (rlog's agent), false for an original
 * rlog-agent.
 */
public record AgentInfo(
    String uuid,
    String projectId,
    String hostname,
    String os,
    String osVersion,
    long registeredAtMillis,
    long lastHeartbeatMillis,
    double cpu,
    double memory,
    long tokenGeneration,
    boolean revoked,
    boolean hasSecret) {}
