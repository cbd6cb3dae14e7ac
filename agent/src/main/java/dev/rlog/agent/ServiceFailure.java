package dev.rlog.agent;

/** A service thread of the agent that died, or ended while the agent was not stopping. */
public record ServiceFailure(String service, Throwable cause) {}
