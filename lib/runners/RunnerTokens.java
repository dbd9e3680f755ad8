// What this file needs, so that a script naming it gets the rest too (also when fetched remotely).
//DEPS io.fabric8:kubernetes-client:7.9.0

import io.fabric8.kubernetes.api.model.HasMetadata;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * When a runner's authentication token expires, as gfw records it on the token Secret, and what that means.
 *
 * <p>GitLab gives a runner token an expiry when the group (or instance) sets "runner authentication token expiration"
 * ({@code token_expires_at} of {@code POST /user/runners} and of {@code reset_authentication_token}; gitlabhq
 * app/models/ci/runner.rb {@code compute_token_expiration_group}). gitlab-runner then rotates its own token at 75% of
 * the token's life (gitlab-runner commands/multi.go {@code nextRunnerToReset}, common/consts.go
 * {@code TokenResetIntervalFactor = 0.75}) and keeps the new one in its config.toml — which the chart rebuilds from the
 * Secret at every start. With several manager replicas sharing one token, the replica that rotates gets the new token
 * and the others keep the old, now rejected, one (they disconnect), and any pod started later reads the stale Secret.
 * So gfw records the expiry, warns before gitlab-runner's own rotation, and rotates through gfw ({@code runners
 * rotate-token}: reset in GitLab, stored in the Secret, every pod restarted) instead.
 */
final class RunnerTokens {

    /** When the stored token expires (GitLab's {@code token_expires_at}), or {@value #NEVER}. */
    static final String EXPIRES_AT_ANNOTATION = "gfw.gloriousflywheel.dev/token-expires-at";
    /** When gfw got the stored token from GitLab (created or reset). */
    static final String OBTAINED_AT_ANNOTATION = "gfw.gloriousflywheel.dev/token-obtained-at";
    static final String NEVER = "never";
    /** gitlab-runner rotates its token itself at this fraction of its life (common/consts.go TokenResetIntervalFactor). */
    static final double SELF_ROTATION = 0.75;
    /** Warn this long before gitlab-runner's own rotation (at most a quarter of the token's life). */
    static final Duration WARN_BEFORE = Duration.ofDays(7);

    private RunnerTokens() {}

    /** The token Secret with when its token was obtained and when it expires ({@code expiresAt} null: never). */
    static HasMetadata annotate(HasMetadata secret, Instant obtained, String expiresAt) {
        var annotations = secret.getMetadata().getAnnotations() == null ? new LinkedHashMap<String, String>()
                : new LinkedHashMap<>(secret.getMetadata().getAnnotations());
        annotations.put(OBTAINED_AT_ANNOTATION, obtained.toString());
        annotations.put(EXPIRES_AT_ANNOTATION, expiresAt == null || expiresAt.isBlank() ? NEVER : expiresAt);
        secret.getMetadata().setAnnotations(annotations);
        return secret;
    }

    /** What the Secret's annotations say: {@code expires} null for a token that never expires. */
    record Expiry(Instant obtained, Instant expires) {

        /** When gitlab-runner rotates the token itself (null: never). */
        Instant selfRotation() {
            if (expires == null) return null;
            if (obtained == null || !obtained.isBefore(expires)) return expires;
            return obtained.plusMillis((long) (SELF_ROTATION * Duration.between(obtained, expires).toMillis()));
        }

        /** From when gfw warns. */
        Instant warnFrom() {
            Instant self = selfRotation();
            if (self == null) return null;
            Duration life = obtained == null ? WARN_BEFORE.multipliedBy(4) : Duration.between(obtained, expires);
            Duration before = life.dividedBy(4).compareTo(WARN_BEFORE) < 0 ? life.dividedBy(4) : WARN_BEFORE;
            return self.minus(before);
        }
    }

    /** The expiry the annotations record; null when none is recorded (a Secret made before gfw recorded it). */
    static Expiry read(Map<String, String> annotations) {
        if (annotations == null || annotations.get(EXPIRES_AT_ANNOTATION) == null) return null;
        String expires = annotations.get(EXPIRES_AT_ANNOTATION).trim();
        Instant obtained = instant(annotations.get(OBTAINED_AT_ANNOTATION));
        if (expires.equals(NEVER)) return new Expiry(obtained, null);
        Instant at = instant(expires);
        return at == null ? null : new Expiry(obtained, at);
    }

    private static Instant instant(String s) {
        if (s == null || s.isBlank()) return null;
        try {
            return OffsetDateTime.parse(s.trim()).toInstant();
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** A verdict on the stored token: ok, warn or fail, and why (with the rotate-token command line). */
    record Verdict(String level, String text) {}

    /**
     * ok while far from gitlab-runner's own rotation; warn from {@link Expiry#warnFrom} (rotate with gfw first) and past
     * the self-rotation point (the Secret's token has likely been replaced under it); fail once expired; unknown (null
     * expiry) when nothing is recorded.
     */
    static Verdict check(Expiry e, Instant now, String rotate) {
        if (e == null) return new Verdict("unknown", "no expiry recorded on the Secret (stored before gfw recorded it): '" + rotate + "' records it");
        if (e.expires() == null) return new Verdict("ok", "the token does not expire (GitLab set no expiry)");
        Instant self = e.selfRotation();
        if (!now.isBefore(e.expires())) {
            return new Verdict("fail", "the token expired at " + e.expires() + ": GitLab no longer accepts the Secret's token; run '" + rotate + "'");
        }
        if (!now.isBefore(self)) {
            return new Verdict("warn", "the token expires at " + e.expires() + ", and since " + self + " gitlab-runner rotates it itself"
                    + " (75% of its life): then only the replica that rotated has the new token and the Secret's is rejected; run '" + rotate + "' now");
        }
        if (!now.isBefore(e.warnFrom())) {
            return new Verdict("warn", "the token expires at " + e.expires() + "; gitlab-runner rotates it itself at " + self
                    + " and only that replica gets the new one: run '" + rotate + "' before then");
        }
        return new Verdict("ok", "the token expires at " + e.expires() + " (gitlab-runner would rotate it itself at " + self + ")");
    }
}
