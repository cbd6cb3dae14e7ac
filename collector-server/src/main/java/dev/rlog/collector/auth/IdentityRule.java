package dev.rlog.collector.auth;

/**
 * Decides whom a {@code Register} request (with a valid project key) is: the agent whose uuid it
 * names, or a new agent. Pure: no I/O, no clock; table-tested.
 *
 * <p>The rule, per uuid named in the request:
 *
 * <pre>
 *   named uuid                request secret          outcome
 *   none / unknown            any                     NEW_AGENT
 *   of another project        any                     REFUSED_OTHER_PROJECT   (fresh uuid)
 *   registered with secret    same secret             KEEP_WITH_SECRET
 *   registered with secret    other secret            REFUSED_WRONG_SECRET    (fresh uuid)
 *   registered with secret    none                    REFUSED_NO_SECRET       (fresh uuid)
 *   registered without one    none                    KEEP_SECRETLESS         (original agent)
 *   registered without one    a secret                REFUSED_SECRETLESS_CLAIM (fresh uuid)
 * </pre>
 *
 * <p>The last row is a choice: letting a request with a secret claim a secretless uuid would let
 * anyone holding the project key bind an original agent's uuid to a secret the original agent
 * does not have, locking it out of its own identity for good. A fresh uuid costs the claimant
 * nothing but its old uuid (and the duplicate positions kept under it).
 */
final class IdentityRule {
  /** What to do with a Register request. */
  enum Outcome {
    /** No uuid in the request, or one the collector does not know: a new agent. */
    NEW_AGENT(false, false),
    /** The uuid's secret was presented: same agent, new token generation. */
    KEEP_WITH_SECRET(true, false),
    /** An original agent (no secret on either side): same agent, as the original protocol does. */
    KEEP_SECRETLESS(true, false),
    REFUSED_OTHER_PROJECT(false, true),
    REFUSED_WRONG_SECRET(false, true),
    REFUSED_NO_SECRET(false, true),
    REFUSED_SECRETLESS_CLAIM(false, true);

    private final boolean keepsUuid;
    private final boolean refusal;

    Outcome(boolean keepsUuid, boolean refusal) {
      this.keepsUuid = keepsUuid;
      this.refusal = refusal;
    }

    /** True if the named uuid is kept; otherwise a fresh uuid is assigned. */
    boolean keepsUuid() {
      return keepsUuid;
    }

    /** True if the request named a known uuid it may not have (logged and counted). */
    boolean isRefusal() {
      return refusal;
    }
  }

  private IdentityRule() {}

  /**
   * @param named the agent the request's uuid names, or null (no uuid, unknown uuid)
   * @param projectId the project whose key the request carried
   * @param presentedSecretHash SHA-256 hex of the request's agent_secret, or null if it had none
   */
  static Outcome decide(StoredAgent named, String projectId, String presentedSecretHash) {
    if (named == null) {
      return Outcome.NEW_AGENT;
    }
    if (!named.projectId().equals(projectId)) {
      return Outcome.REFUSED_OTHER_PROJECT;
    }
    if (named.secretHash() == null) {
      return presentedSecretHash == null
          ? Outcome.KEEP_SECRETLESS : Outcome.REFUSED_SECRETLESS_CLAIM;
    }
    if (presentedSecretHash == null) {
      return Outcome.REFUSED_NO_SECRET;
    }
    return SecretHashes.constantTimeEquals(presentedSecretHash, named.secretHash())
        ? Outcome.KEEP_WITH_SECRET : Outcome.REFUSED_WRONG_SECRET;
  }
}
