import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * What the CloudNativePG operator and the Deployment controller do, for the namespaces it is given,
 * against the test API server (which runs no controllers): when a {@code Cluster} appears it makes the
 * bootstrap owner a login role with the bootstrap secret's password in the suite's real PostgreSQL
 * ({@link TestPostgres}), writes {@code <cluster>-app} as CNPG does (username, password, dbname, host,
 * port, uri, jdbc-uri, pgpass) and sets the Cluster's status through the status subresource. For
 * Deployments it writes a status as a rolled-out controller would, records each new pod template it
 * sees, and keeps one ready Pod {@code attic-0} for the Attic server (so a port-forward has a target).
 * Polls every 100 ms on its own daemon thread; {@link #close} stops it.
 */
final class CnpgOperatorStandIn implements AutoCloseable {

    static final String API = "postgresql.cnpg.io/v1";

    private final KubernetesClient kube;
    private final TestPostgres pg;
    private final Set<String> namespaces = ConcurrentHashMap.newKeySet();
    /** Namespaces whose Clusters are left unready (as while a volume cannot be bound). */
    final Set<String> holdUnready = ConcurrentHashMap.newKeySet();
    /** "ns/name image" for every new pod template a Deployment got (a rollout). */
    final List<String> rollouts = new CopyOnWriteArrayList<>();
    /** Roles created or re-passworded, "ns/cluster owner". */
    final List<String> bootstrapped = new CopyOnWriteArrayList<>();
    private final Map<String, String> templates = new ConcurrentHashMap<>();
    private final Map<String, String> passwords = new ConcurrentHashMap<>();
    private final Thread thread;
    private volatile boolean stop;
    /** While set, it sends nothing (a benchmark counting only what the measured tool sends). */
    volatile boolean paused;
    volatile Throwable failure;

    CnpgOperatorStandIn(KubernetesClient kube, TestPostgres pg) {
        this.kube = kube;
        this.pg = pg;
        thread = new Thread(this::loop, "cnpg-operator-stand-in");
        thread.setDaemon(true);
        thread.start();
    }

    void watch(String namespace) {
        namespaces.add(namespace);
    }

    private void loop() {
        while (!stop) {
            if (!paused) {
                try {
                    establishCrds();
                } catch (RuntimeException e) {
                    failure = e;
                }
            }
            for (String ns : paused ? Set.<String>of() : namespaces) {
                try {
                    clusters(ns);
                    deployments(ns);
                } catch (RuntimeException | java.sql.SQLException e) {
                    failure = e;
                }
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** What the API server's apiextensions controller does: a new CNPG CRD becomes Established (Helm's --wait checks it). */
    private void establishCrds() {
        for (var crd : kube.apiextensions().v1().customResourceDefinitions().list().getItems()) {
            if (!crd.getMetadata().getName().endsWith(".cnpg.io")) continue;
            var st = crd.getStatus();
            boolean established = st != null && st.getConditions() != null
                    && st.getConditions().stream().anyMatch(c -> "Established".equals(c.getType()) && "True".equals(c.getStatus()));
            if (established) continue;
            crd.setStatus(new io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionStatusBuilder()
                    .addNewCondition().withType("NamesAccepted").withStatus("True").withReason("NoConflicts").endCondition()
                    .addNewCondition().withType("Established").withStatus("True").withReason("InitialNamesAccepted").endCondition()
                    .withNewAcceptedNames().withKind(crd.getSpec().getNames().getKind()).withPlural(crd.getSpec().getNames().getPlural())
                    .withSingular(crd.getSpec().getNames().getSingular()).withListKind(crd.getSpec().getNames().getListKind()).endAcceptedNames()
                    .withStoredVersions("v1").build());
            kube.apiextensions().v1().customResourceDefinitions().resource(crd).updateStatus();
        }
    }

    private void clusters(String ns) throws java.sql.SQLException {
        for (GenericKubernetesResource c : kube.genericKubernetesResources(API, "Cluster").inNamespace(ns).list().getItems()) {
            Map<String, Object> spec = map(c.getAdditionalProperties().get("spec"));
            Map<String, Object> initdb = map(map(spec.get("bootstrap")).get("initdb"));
            String name = c.getMetadata().getName();
            String owner = (String) initdb.get("owner");
            String database = (String) initdb.get("database");
            String secretName = (String) map(initdb.get("secret")).get("name");
            Secret bootstrap = kube.secrets().inNamespace(ns).withName(secretName).get();
            if (bootstrap == null || holdUnready.contains(ns)) continue;
            String password = decode(bootstrap, "password");
            String key = ns + "/" + name;
            if (!password.equals(passwords.get(key))) {
                pg.createRole(owner, password, database);
                passwords.put(key, password);
                bootstrapped.add(key + " " + owner);
                String host = name + "-rw";
                String uri = "postgresql://" + owner + ":" + java.net.URLEncoder.encode(password, StandardCharsets.UTF_8).replace("+", "%20")
                        + "@" + host + "." + ns + ":5432/" + database;
                kube.resource(new SecretBuilder().withNewMetadata().withName(name + "-app").withNamespace(ns)
                        .addToLabels("cnpg.io/cluster", name).addToLabels("cnpg.io/reload", "true").endMetadata()
                        .withType("kubernetes.io/basic-auth")
                        .addToStringData("username", owner).addToStringData("user", owner).addToStringData("password", password)
                        .addToStringData("dbname", database).addToStringData("host", host).addToStringData("port", "5432")
                        .addToStringData("uri", uri).addToStringData("jdbc-uri", "jdbc:postgresql://" + host + "." + ns + ":5432/" + database)
                        .addToStringData("pgpass", host + ":5432:" + database + ":" + owner + ":" + password + "\n").build()).createOr(r -> r.update());
            }
            Map<String, Object> status = map(c.getAdditionalProperties().get("status"));
            int instances = ((Number) spec.getOrDefault("instances", 1)).intValue();
            if (!"Cluster in healthy state".equals(status.get("phase")) || !Integer.valueOf(instances).equals(status.get("readyInstances"))) {
                GenericKubernetesResource fresh = kube.genericKubernetesResources(API, "Cluster").inNamespace(ns).withName(name).get();
                fresh.getAdditionalProperties().put("status", Map.of("phase", "Cluster in healthy state", "instances", instances,
                        "readyInstances", instances, "currentPrimary", name + "-1"));
                kube.genericKubernetesResources(API, "Cluster").inNamespace(ns).resource(fresh).updateStatus();
            }
        }
    }

    private void deployments(String ns) {
        for (Deployment d : kube.apps().deployments().inNamespace(ns).list().getItems()) {
            String key = ns + "/" + d.getMetadata().getName();
            String template = io.fabric8.kubernetes.client.utils.Serialization.asJson(d.getSpec().getTemplate());
            int replicas = d.getSpec().getReplicas() == null ? 1 : d.getSpec().getReplicas();
            long generation = d.getMetadata().getGeneration() == null ? 1 : d.getMetadata().getGeneration();
            boolean fresh = template.equals(templates.get(key)) && d.getStatus() != null
                    && Integer.valueOf(replicas).equals(d.getStatus().getAvailableReplicas());
            if (fresh) continue;
            if (!template.equals(templates.get(key))) rollouts.add(key + " " + d.getSpec().getTemplate().getSpec().getContainers().get(0).getImage());
            templates.put(key, template);
            d.setStatus(new DeploymentStatusBuilder().withObservedGeneration(generation).withReplicas(replicas).withUpdatedReplicas(replicas)
                    .withReadyReplicas(replicas).withAvailableReplicas(replicas).build());
            kube.apps().deployments().inNamespace(ns).resource(d).updateStatus();
            if ("attic".equals(d.getMetadata().getName()) && kube.pods().inNamespace(ns).withName("attic-0").get() == null) {
                kube.resource(new PodBuilder().withNewMetadata().withName("attic-0").withNamespace(ns)
                        .withLabels(d.getSpec().getSelector().getMatchLabels()).endMetadata()
                        .withSpec(d.getSpec().getTemplate().getSpec())
                        .withNewStatus().withPhase("Running").addNewCondition().withType("Ready").withStatus("True").endCondition().endStatus()
                        .build()).create();
            }
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object o) {
        return o instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
    }

    private static String decode(Secret s, String key) {
        if (s.getData() != null && s.getData().get(key) != null) {
            return new String(Base64.getDecoder().decode(s.getData().get(key)), StandardCharsets.UTF_8);
        }
        return s.getStringData() == null ? null : s.getStringData().get(key);
    }

    @Override
    public void close() {
        stop = true;
        thread.interrupt();
    }
}
