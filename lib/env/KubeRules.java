// No //SOURCES line: plain Java, no other gfw file.

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Kubernetes' own admission and controller rules that gfw checks before the API server would refuse,
 * written once: what pods need from a ResourceQuota once the LimitRange has filled in their defaults
 * (the capacity arithmetic), how many evictions a PodDisruptionBudget allows, what a Pod Security level
 * admits, and which changes a PersistentVolumeClaim can take. Pure functions of plain values; the
 * environment file's checks (EnvConfig) and deploy-cache (CacheDeploy) call them and name the fields.
 */
final class KubeRules {

    // ---- quantities -------------------------------------------------------------------------------

    private static final Pattern QUANTITY = Pattern.compile("[+]?([0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?");

    /** A Kubernetes quantity in base units (cores, bytes, a count); k8s.io/apimachinery pkg/api/resource ParseQuantity's suffixes. */
    static BigDecimal parse(String s) {
        Matcher m = QUANTITY.matcher(s == null ? "" : s.trim());
        if (!m.matches()) throw new IllegalArgumentException("not a quantity: " + s);
        BigDecimal n = new BigDecimal(m.group(1).endsWith(".") ? m.group(1) + "0" : m.group(1));
        String suffix = m.group(2) == null ? "" : m.group(2);
        return switch (suffix) {
            case "" -> n;
            case "Ki" -> n.multiply(BigDecimal.valueOf(1L << 10));
            case "Mi" -> n.multiply(BigDecimal.valueOf(1L << 20));
            case "Gi" -> n.multiply(BigDecimal.valueOf(1L << 30));
            case "Ti" -> n.multiply(BigDecimal.valueOf(1L << 40));
            case "Pi" -> n.multiply(BigDecimal.valueOf(1L << 50));
            case "Ei" -> n.multiply(BigDecimal.valueOf(1L << 60));
            case "n" -> n.movePointLeft(9);
            case "u" -> n.movePointLeft(6);
            case "m" -> n.movePointLeft(3);
            case "k" -> n.movePointRight(3);
            case "M" -> n.movePointRight(6);
            case "G" -> n.movePointRight(9);
            case "T" -> n.movePointRight(12);
            case "P" -> n.movePointRight(15);
            case "E" -> n.movePointRight(18);
            default -> n.scaleByPowerOfTen(Integer.parseInt(suffix.substring(1)));
        };
    }

    /** A total for a message: cpu in cores (up to 3 decimals), memory and storage in Gi or Mi (rounded up), counts as they are. */
    static String format(String resource, BigDecimal v) {
        if (resource.endsWith("memory") || resource.endsWith("storage")) {
            BigDecimal gi = BigDecimal.valueOf(1L << 30);
            BigDecimal mi = BigDecimal.valueOf(1L << 20);
            if (v.remainder(gi).signum() == 0) return v.divide(gi).toBigInteger() + "Gi";
            return v.divide(mi, 0, RoundingMode.CEILING) + "Mi";
        }
        return v.setScale(3, RoundingMode.CEILING).stripTrailingZeros().toPlainString();
    }

    // ---- LimitRange defaults and a pod's resources -------------------------------------------------

    /** A container's resources as written (cpu, memory, ephemeral-storage); empty maps when none. */
    record Resources(Map<String, String> requests, Map<String, String> limits) {
        static final Resources NONE = new Resources(Map.of(), Map.of());
    }

    /** A namespace's LimitRange for containers, as written in the environment file. */
    record LimitRange(Map<String, String> defaultRequest, Map<String, String> defaultLimit, Map<String, String> max) {
        static final LimitRange NONE = new LimitRange(Map.of(), Map.of(), Map.of());

        /**
         * As the API server stores it (k8s.io/kubernetes pkg/apis/core/v1/defaults.go SetDefaults_LimitRangeItem):
         * a resource with a max but no default limit gets the max as default limit, and one with a default
         * limit but no default request gets the default limit as default request.
         */
        LimitRange defaulted() {
            var dl = new LinkedHashMap<>(defaultLimit);
            max.forEach(dl::putIfAbsent);
            var dr = new LinkedHashMap<>(defaultRequest);
            dl.forEach(dr::putIfAbsent);
            return new LimitRange(dr, dl, max);
        }
    }

    /**
     * A container's request (or limit) of {@code resource} once admitted, null when it has none: the
     * request written; else its limit (pkg/apis/core/v1/defaults.go SetDefaults_Pod: requests default
     * to limits); else the LimitRange's default request (plugin/pkg/admission/limitranger
     * defaultContainerResourceRequirements). A limit: written, else the LimitRange's default limit.
     */
    static BigDecimal effective(Resources c, LimitRange lr, String kind, String resource) {
        LimitRange d = lr.defaulted();
        String v;
        if (kind.equals("requests")) {
            v = c.requests().get(resource);
            if (v == null) v = c.limits().get(resource);
            if (v == null) v = d.defaultRequest().get(resource);
        } else {
            v = c.limits().get(resource);
            if (v == null) v = d.defaultLimit().get(resource);
        }
        return v == null ? null : parse(v);
    }

    /**
     * Pods of one kind: {@code count} of them, each with these containers, and {@code claims}
     * PersistentVolumeClaims of {@code claimSize} each. Messages add up the counts of one {@code what}
     * ("manager pods") and list the {@code detail}s ("docker 2x12").
     */
    record Pods(String what, String detail, long count, List<Resources> containers, long claims, String claimSize) {
        static Pods of(String what, String detail, long count, Resources... containers) {
            return new Pods(what, detail, count, List.of(containers), 0, null);
        }
    }

    /** The ResourceQuota keys gfw computes (ResourceQuota's evaluator for pods and claims). */
    static final List<String> COMPUTED = List.of("pods", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory",
            "persistentvolumeclaims", "requests.storage");

    /**
     * What a quota key adds up to over {@code pods}, or null when some pod names no value for it (then the
     * quota admission refuses that pod outright: "must specify requests.cpu"); the pods without one in {@code missing}.
     */
    static BigDecimal total(String key, List<Pods> pods, LimitRange lr, List<String> missing) {
        BigDecimal sum = BigDecimal.ZERO;
        for (Pods p : pods) {
            switch (key) {
                case "pods" -> sum = sum.add(BigDecimal.valueOf(p.count()));
                case "persistentvolumeclaims" -> sum = sum.add(BigDecimal.valueOf(p.claims()));
                case "requests.storage" -> {
                    if (p.claims() > 0) sum = sum.add(parse(p.claimSize()).multiply(BigDecimal.valueOf(p.claims())));
                }
                default -> {
                    if (p.count() == 0) continue;
                    String kind = key.substring(0, key.indexOf('.'));
                    String resource = key.substring(key.indexOf('.') + 1);
                    BigDecimal perPod = BigDecimal.ZERO;
                    for (Resources c : p.containers()) {
                        BigDecimal v = effective(c, lr, kind, resource);
                        if (v == null) {
                            missing.add(p.what());
                            perPod = null;
                            break;
                        }
                        perPod = perPod.add(v);
                    }
                    if (perPod != null) sum = sum.add(perPod.multiply(BigDecimal.valueOf(p.count())));
                }
            }
        }
        return missing.isEmpty() ? sum : null;
    }

    /** One quota key that cannot hold the pods: what it allows, what they need (null: some pod names none), and why. */
    record Shortfall(String key, String hard, BigDecimal needed, List<String> missing) {
        String message(String scale) {
            if (needed == null) {
                return "the ResourceQuota counts " + key + ", but " + String.join(", ", missing) + " name none and the LimitRange gives no default,"
                        + " so the API server refuses them (\"must specify " + key + "\"); set their resources or a limits default";
            }
            return hard + " cannot hold what runs here at " + scale + ": " + format(key, needed) + " " + key + " are needed";
        }
    }

    /** Each quota key gfw computes whose hard value is below what {@code pods} need once admitted. */
    static List<Shortfall> shortfalls(Map<String, String> quota, LimitRange lr, List<Pods> pods) {
        var out = new ArrayList<Shortfall>();
        for (String key : COMPUTED) {
            String hard = quota.get(key);
            if (hard == null) continue;
            var missing = new ArrayList<String>();
            BigDecimal need = total(key, pods, lr, missing);
            if (need == null) out.add(new Shortfall(key, hard, null, missing.stream().distinct().toList()));
            else if (need.compareTo(parse(hard)) > 0) out.add(new Shortfall(key, hard, need, List.of()));
        }
        return out;
    }

    /** The pods, one phrase: "7 manager pods, 50 job pods (docker 2x12, nix 2x6)". */
    static String breakdown(List<Pods> pods) {
        var counts = new LinkedHashMap<String, Long>();
        var details = new LinkedHashMap<String, List<String>>();
        for (Pods p : pods) {
            long n = p.count() > 0 ? p.count() : p.claims();
            if (n == 0) continue;
            counts.merge(p.what(), n, Long::sum);
            if (p.detail() != null) details.computeIfAbsent(p.what(), k -> new ArrayList<>()).add(p.detail());
        }
        var parts = new ArrayList<String>();
        counts.forEach((what, n) -> parts.add(n + " " + what + (details.containsKey(what) ? " (" + String.join(", ", details.get(what)) + ")" : "")));
        return String.join(", ", parts);
    }

    // ---- PodDisruptionBudget ----------------------------------------------------------------------

    /**
     * Evictions a PDB allows with {@code replicas} healthy pods (k8s.io/kubernetes pkg/controller/disruption
     * disruption.go getExpectedPodCount and updatePdbStatus): with maxUnavailable, desiredHealthy =
     * replicas - maxUnavailable (at least 0); with minAvailable, desiredHealthy = minAvailable; allowed =
     * healthy - desiredHealthy, at least 0. Integers only (gfw writes no percentages). Exactly one of the two is set.
     */
    static int disruptionsAllowed(Integer minAvailable, Integer maxUnavailable, int replicas) {
        int desiredHealthy = maxUnavailable != null ? Math.max(0, replicas - maxUnavailable) : minAvailable;
        return Math.max(0, replicas - desiredHealthy);
    }

    // ---- Pod Security admission -------------------------------------------------------------------

    /**
     * Whether a namespace's Pod Security {@code enforce} level admits a pod with a privileged container:
     * only "privileged" does (k8s.io/pod-security-admission policy/check_privileged.go, the baseline
     * "privileged" check applies to baseline and restricted alike).
     */
    static boolean admitsPrivileged(String enforceLevel) {
        return "privileged".equals(enforceLevel);
    }

    // ---- PersistentVolumeClaim updates ------------------------------------------------------------

    /** A PVC's spec as far as gfw writes it: access modes, storage class (null: not written), requested size. */
    record Claim(List<String> accessModes, String storageClass, String size) {}

    /** What a PVC update cannot do; {@code field} is the claim's spec field it concerns. */
    record ClaimChange(String field, String live, String wanted, String why) {}

    /**
     * The changes the API server would refuse (k8s.io/kubernetes pkg/apis/core/validation/validation.go
     * ValidatePersistentVolumeClaimUpdate): the spec is immutable after creation except
     * resources.requests of a bound claim, and the storage request cannot go below its previous value.
     * A storage class gfw does not write is left to the cluster's default and never compared.
     */
    static List<ClaimChange> claimChanges(Claim live, Claim wanted, boolean bound) {
        var out = new ArrayList<ClaimChange>();
        if (!live.accessModes().equals(wanted.accessModes())) {
            out.add(new ClaimChange("accessModes", String.join(",", live.accessModes()), String.join(",", wanted.accessModes()),
                    "a claim's access modes cannot change after creation"));
        }
        if (wanted.storageClass() != null && !wanted.storageClass().equals(live.storageClass())) {
            out.add(new ClaimChange("storageClassName", live.storageClass() == null ? "(none)" : live.storageClass(), wanted.storageClass(),
                    "a claim's storage class cannot change after creation"));
        }
        if (live.size() != null && wanted.size() != null) {
            int cmp = parse(wanted.size()).compareTo(parse(live.size()));
            if (cmp < 0) {
                out.add(new ClaimChange("resources.requests.storage", live.size(), wanted.size(), "a claim cannot shrink"));
            } else if (cmp > 0 && !bound) {
                out.add(new ClaimChange("resources.requests.storage", live.size(), wanted.size(), "only a bound claim can grow, and this one is not bound yet"));
            }
        }
        return out;
    }

    private KubeRules() {}
}
