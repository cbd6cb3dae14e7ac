package dev.rlog.agent.ship;

import dev.rlog.agent.auth.AccessTokens;
import io.grpc.Status;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Hands out "tok-1", "tok-2", ...: a new one each time a token is reported refused. */
final class FakeTokens implements AccessTokens {
  private volatile int generation = 1;
  /** The tokens reported refused, in order. */
  final List<String> refused = new CopyOnWriteArrayList<>();
  /** When set, renewals fail with it. */
  volatile Status renewalFailsWith;
  /** When set, renewals throw it (a bug, not a status). */
  volatile RuntimeException renewalThrows;

  @Override
  public String accessToken() {
    return "tok-" + generation;
  }

  @Override
  public String currentAccessToken() {
    return accessToken();
  }

  @Override
  public synchronized String onUnauthenticated(String failedToken) {
    refused.add(failedToken);
    RuntimeException bug = renewalThrows;
    if (bug != null) {
      throw bug;
    }
    Status fail = renewalFailsWith;
    if (fail != null) {
      throw fail.asRuntimeException();
    }
    generation++;
    return accessToken();
  }
}
